package runner

import (
	"os"
	"strings"
	"testing"
)

// TestValidateEtcInjection: a hostname, an --add-host name or address, or a --dns address
// that holds a newline, a tab, a space or another control character wrote lines or names of
// the user's own into the container's /etc/hosts or /etc/resolv.conf ("x\n6.6.6.6\tbank"
// made bank resolve to 6.6.6.6). Each is refused in one line before anything is created; an
// IPv6 zone is refused as docker's net.ParseIP refuses it, since netip takes any byte in one.
func TestValidateEtcInjection(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Spec)
		want string // a part of the error; "" for none
	}{
		{"hostname with a newline", func(s *Spec) { s.Hostname = "x\n6.6.6.6\tbank" }, `invalid hostname "x\n6.6.6.6\tbank": contains "\n"`},
		{"hostname with a space", func(s *Spec) { s.Hostname = "a b" }, `invalid hostname "a b"`},
		{"hostname with a tab", func(s *Spec) { s.Hostname = "a\tb" }, `invalid hostname "a\tb"`},
		{"hostname with an escape", func(s *Spec) { s.Hostname = "a\x1b]0;x\x07" }, `invalid hostname "a\x1b]0;x\a"`},
		{"hostname with a NUL", func(s *Spec) { s.Hostname = "a\x00b" }, `invalid hostname "a\x00b"`},
		// Not RFC 1123 but taken, as docker takes them since it dropped that check
		// (TestValidateHostnameAsDocker).
		{"hostname with an empty label", func(s *Spec) { s.Hostname = "a..b" }, ""},
		{"hostname starting with -", func(s *Spec) { s.Hostname = "-a" }, ""},
		{"hostname label ending with -", func(s *Spec) { s.Hostname = "a-.b" }, ""},
		{"hostname with a slash", func(s *Spec) { s.Hostname = "a/b" }, ""},
		{"hostname with a '#'", func(s *Spec) { s.Hostname = "a#b" }, `invalid hostname "a#b": contains "#"`},
		{"hostname of 65 bytes", func(s *Spec) { s.Hostname = strings.Repeat("h", 65) }, "longer than 64 bytes"},
		{"hostname ending with a dot", func(s *Spec) { s.Hostname = strings.Repeat("h", 63) + "." }, ""},
		{"hostname label of 64 bytes", func(s *Spec) { s.Hostname = strings.Repeat("h", 64) }, ""},
		{"hostname fine", func(s *Spec) { s.Hostname = "web-1.Example.com" }, ""},
		{"hostname of 64 bytes", func(s *Spec) { s.Hostname = strings.Repeat("h", 32) + "." + strings.Repeat("h", 31) }, ""},
		{"hostname all digits", func(s *Spec) { s.Hostname = "123" }, ""},
		{"add-host name with a newline", func(s *Spec) { s.ExtraHosts = []string{"evil\n6.6.6.6 bank.com:1.2.3.4"} }, `invalid --add-host "evil\n6.6.6.6 bank.com:1.2.3.4": the name contains "\n"`},
		{"add-host name with a space", func(s *Spec) { s.ExtraHosts = []string{"a b:1.2.3.4"} }, `the name contains " "`},
		{"add-host name with a tab", func(s *Spec) { s.ExtraHosts = []string{"a\tb:1.2.3.4"} }, `the name contains "\t"`},
		{"add-host name with a CR", func(s *Spec) { s.ExtraHosts = []string{"a\rb:1.2.3.4"} }, `the name contains "\r"`},
		{"add-host name with a DEL", func(s *Spec) { s.ExtraHosts = []string{"a\x7fb:1.2.3.4"} }, `the name contains "\x7f"`},
		{"add-host name with a unicode space", func(s *Spec) { s.ExtraHosts = []string{"a\u2028b:1.2.3.4"} }, `the name contains "\u2028"`},
		{"add-host zone with a newline", func(s *Spec) { s.ExtraHosts = []string{"x:fe80::1%eth0\n6.6.6.6 y"} }, `invalid IP address in --add-host: "fe80::1%eth0\n6.6.6.6 y"`},
		{"add-host zone", func(s *Spec) { s.ExtraHosts = []string{"x:[fe80::1%eth0]"} }, `invalid IP address in --add-host`},
		{"add-host fine", func(s *Spec) { s.ExtraHosts = []string{"db_1.local:[::1]", "x:10.0.0.1"} }, ""},
		{"dns zone with a newline", func(s *Spec) { s.DNS = []string{"fe80::1%eth0\nsearch evil"} }, `invalid IP address in --dns: "fe80::1%eth0\nsearch evil"`},
		{"dns zone", func(s *Spec) { s.DNS = []string{"fe80::1%eth0"} }, `invalid IP address in --dns`},
		{"dns fine", func(s *Spec) { s.DNS = []string{"::1", "8.8.8.8"} }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := Spec{ID: "c", Args: []string{"true"}}
			tt.edit(&s)
			err := s.withDefaults().validateInput()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validateInput() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("validateInput() = %v, want %s", err, tt.want)
			case err != nil && strings.ContainsAny(err.Error(), "\n\t\r"):
				t.Errorf("validateInput() = %q, want one line", err)
			}
		})
	}
}

// TestValidateHostnameHostNetwork: a container on the host's network takes the host's name,
// as docker's, whatever it is; a name given with it is checked as any other.
func TestValidateHostnameHostNetwork(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	s := Spec{ID: "c", Args: []string{"true"}, Network: NetworkHost}
	if got := s.withDefaults(); got.Hostname != host {
		t.Fatalf("withDefaults().Hostname = %q, want the host's %q", got.Hostname, host)
	}
	if err := s.withDefaults().validateInput(); err != nil {
		t.Errorf("validateInput() with the host's name %q = %v, want nil", host, err)
	}
	s.Hostname = "a\nb"
	if err := s.withDefaults().validateInput(); err == nil {
		t.Errorf("validateInput() with --network host -h %q = nil, want an error", s.Hostname)
	}
}

// TestHostsFileWritesNoInjectedLine: what hostsFile writes for names that pass holds one line
// per --add-host, and resolvConf one per --dns.
func TestHostsFileWritesNoInjectedLine(t *testing.T) {
	extra := []string{"a:1.2.3.4", "b.c:[::1]"}
	hosts, err := hostsFile(NetworkNone, "box", nil, extra)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Count(string(hosts), "\n"), strings.Count(defaultHosts, "\n")+1+len(extra); got != want {
		t.Errorf("hostsFile: %d lines, want %d:\n%s", got, want, hosts)
	}
}
