package runner

import (
	"errors"
	"strings"
	"testing"
)

// TestValidateHostnameAsDocker: a hostname was held to RFC 1123, so `-h my_host` and
// `-h foo.` were refused where docker takes any name the kernel takes (1 to 64 bytes). Only
// what would break /etc/hostname or the name's line of /etc/hosts is refused: whitespace, a
// control character (NUL among them) and '#', which starts a comment there.
func TestValidateHostnameAsDocker(t *testing.T) {
	for _, h := range []string{
		"my_host", "foo.", "-a", "a-.b", "a..b", "a/b", ".", "_", "héllo", "a:b", "x=y",
		strings.Repeat("h", 63) + ".", strings.Repeat("h", 64),
	} {
		if err := validateHostname(h); err != nil {
			t.Errorf("validateHostname(%q) = %v, want nil", h, err)
		}
		hosts, err := hostsFile(NetworkNone, h, nil, nil)
		if err != nil || !strings.Contains(string(hosts), "127.0.1.1\t"+h+"\n") {
			t.Errorf("hostsFile(hostname %q) = %q, %v, want its line", h, hosts, err)
		}
	}
	for _, tt := range []struct{ h, want string }{
		{"a b", `invalid hostname "a b": contains " "`},
		{"a\tb", `invalid hostname "a\tb": contains "\t"`},
		{"x\n6.6.6.6\tbank", `invalid hostname "x\n6.6.6.6\tbank": contains "\n"`},
		{"a\x00b", `invalid hostname "a\x00b": contains "\x00"`},
		{"a\x7fb", `invalid hostname "a\x7fb": contains "\x7f"`},
		{"a\u0085b", `invalid hostname "a\u0085b": contains "\u0085"`},
		{"a\u00a0b", `invalid hostname "a\u00a0b": contains "\u00a0"`},
		{"a\u2028b", `invalid hostname "a\u2028b": contains "\u2028"`},
		{"web#1", `invalid hostname "web#1": contains "#"`},
		{"#", `invalid hostname "#": contains "#"`},
		{strings.Repeat("h", 65), `invalid hostname "` + strings.Repeat("h", 64) + `"… (65 bytes): longer than 64 bytes`},
	} {
		err := validateHostname(tt.h)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.ContainsAny(err.Error(), "\n\t\r") {
			t.Errorf("validateHostname(%q) = %v, want one line starting %s", tt.h, err, tt.want)
		}
	}
}

// TestAddHostSeparators: --add-host took "name:ip" only, so docker's "name=ip" (docker 25,
// for IPv6: bar=::1) failed with "want name:ip", and bar=::1 was cut at its first ':'. As
// docker's opts.ValidateExtraHost: the first '=' splits if there is one, else the first ':';
// a name with ':' is refused; an address in square brackets is taken out of them (both
// brackets, not one); host-gateway is refused, strata having no bridge network.
func TestAddHostSeparators(t *testing.T) {
	for _, tt := range []struct{ in, line, norm string }{
		{"bar=::1", "::1\tbar\n", "bar:::1"},
		{"bar:::1", "::1\tbar\n", "bar:::1"},
		{"bar=[::1]", "::1\tbar\n", "bar:::1"},
		{"bar:[::1]", "::1\tbar\n", "bar:::1"},
		{"db=10.0.0.5", "10.0.0.5\tdb\n", "db:10.0.0.5"},
		{"db:10.0.0.5", "10.0.0.5\tdb\n", "db:10.0.0.5"},
		{"db:[10.0.0.5]", "10.0.0.5\tdb\n", "db:10.0.0.5"},
		{"v6=2001:db8::1", "2001:db8::1\tv6\n", "v6:2001:db8::1"},
	} {
		hosts, err := hostsFile(NetworkNone, "box", nil, []string{tt.in})
		if err != nil || !strings.HasSuffix(string(hosts), tt.line) {
			t.Errorf("hostsFile(--add-host %q) = %q, %v, want it to end in %q", tt.in, hosts, err, tt.line)
		}
		if norm, err := NormalizeExtraHost(tt.in); err != nil || norm != tt.norm {
			t.Errorf("NormalizeExtraHost(%q) = %q, %v, want %q", tt.in, norm, err, tt.norm)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"noip", `invalid --add-host "noip": want name:ip or name=ip`},
		{"=1.2.3.4", `invalid --add-host "=1.2.3.4": want name:ip or name=ip`},
		{":1.2.3.4", `invalid --add-host ":1.2.3.4": want name:ip or name=ip`},
		{"a:b=::1", `invalid --add-host "a:b=::1": want name:ip or name=ip`},
		{"a=b:1.2.3.4", `invalid IP address in --add-host: "b:1.2.3.4"`},
		{"bar=[::1", `invalid IP address in --add-host: "[::1"`},
		{"bar=::1]", `invalid IP address in --add-host: "::1]"`},
		{"bar=[[::1]]", `invalid IP address in --add-host: "[[::1]]"`},
		{"bar=", `invalid IP address in --add-host: ""`},
		{"gw=host-gateway", `--add-host "gw=host-gateway": host-gateway is the host's address on a bridge network`},
		{"gw:host-gateway", `--add-host "gw:host-gateway": host-gateway is the host's address on a bridge network`},
	} {
		_, err := hostsFile(NetworkNone, "box", nil, []string{tt.in})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("hostsFile(--add-host %q) = %v, want %s", tt.in, err, tt.want)
		}
		if _, nerr := NormalizeExtraHost(tt.in); nerr == nil || nerr.Error() != err.Error() {
			t.Errorf("NormalizeExtraHost(%q) = %v, want hostsFile's error %v", tt.in, nerr, err)
		}
	}
	if _, err := hostsFile(NetworkNone, "box", nil, []string{"gw=host-gateway"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("--add-host gw=host-gateway: %v, want ErrUnsupported", err)
	}
}

// TestValidateDomainname: --domainname is what the kernel holds (64 bytes), with no control
// character, set in a UTS namespace of the container's own: not with --uts host (it would be
// the host's) nor on another container's network (whose names the container takes).
func TestValidateDomainname(t *testing.T) {
	for _, s := range []Spec{
		{}, {Domainname: "example.org"}, {Domainname: strings.Repeat("d", 64)},
		{Domainname: "x", Network: NetworkHost}, {Domainname: "(none)"},
	} {
		if err := validateDomainname(s); err != nil {
			t.Errorf("validateDomainname(%+v) = %v, want nil", s, err)
		}
	}
	for _, tt := range []struct {
		s    Spec
		want string
	}{
		{Spec{Domainname: strings.Repeat("d", 65)}, "longer than 64 bytes"},
		{Spec{Domainname: "a\nb"}, "contains a control character"},
		{Spec{Domainname: "a\x00b"}, "contains a control character"},
		{Spec{Domainname: "x", UTSMode: NSHost}, "conflicting options: domainname and the UTS mode"},
		{Spec{Domainname: "x", Network: "container:web"}, "conflicting options: domainname and the network mode"},
	} {
		err := validateDomainname(tt.s)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.ContainsAny(err.Error(), "\n\x00") {
			t.Errorf("validateDomainname(%+v) = %v, want one line with %q", tt.s, err, tt.want)
		}
	}
}
