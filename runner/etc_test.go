package runner

import (
	"strings"
	"testing"
)

func TestResolvConf(t *testing.T) {
	host := "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nsearch example.com\noptions edns0\n"
	tests := []struct {
		name    string
		network string
		dns     []string
		want    string
		wantErr bool
	}{
		{"none drops loopback", NetworkNone, nil, "# generated\nnameserver 10.0.0.2\nsearch example.com\noptions edns0\n", false},
		{"host keeps all", NetworkHost, nil, host, false},
		{"dns replaces", NetworkNone, []string{"1.1.1.1"}, "# generated\nsearch example.com\noptions edns0\nnameserver 1.1.1.1\n", false},
		{"bad dns", NetworkNone, []string{"not-an-ip"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolvConf(Spec{Network: tt.network, DNS: tt.dns}, []byte(host))
			if (err != nil) != tt.wantErr {
				t.Fatalf("resolvConf error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && string(got) != tt.want {
				t.Errorf("resolvConf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	got, err := hostsFile(NetworkNone, "box", []byte("10.1.1.1 hosty\n"), []string{"db:10.0.0.5", "v6:[::2]"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "127.0.1.1\tbox\n", "10.0.0.5\tdb\n", "::2\tv6\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("hostsFile = %q, lacks %q", s, want)
		}
	}
	if strings.Contains(s, "hosty") {
		t.Errorf("hostsFile(none) copied the host's entries: %q", s)
	}
	got, err = hostsFile(NetworkHost, "box", []byte("10.1.1.1 hosty"), nil)
	if err != nil || !strings.HasPrefix(string(got), "10.1.1.1 hosty\n") {
		t.Errorf("hostsFile(host) = %q, %v, want the host's file", got, err)
	}
	for _, bad := range []string{"noip", "x:999.1.1.1", ":1.2.3.4", "gw:host-gateway"} {
		if _, err := hostsFile(NetworkNone, "box", nil, []string{bad}); err == nil {
			t.Errorf("hostsFile(--add-host %q) succeeded, want an error", bad)
		}
	}
}

// TestEtcAddressErrors pins the words of a bad --add-host or --dns address: docker's
// "invalid IP address in add-host: ...", the value quoted and cut, not netip's own text
// (`ParseAddr("999.1.1.1"): IPv4 field has value >255`), which quoted it a second time.
func TestEtcAddressErrors(t *testing.T) {
	long := strings.Repeat("9", 1000)
	for _, tt := range []struct {
		hosts, dns []string
		want       string
	}{
		{[]string{"x:999.1.1.1"}, nil, `invalid IP address in --add-host: "999.1.1.1"`},
		{[]string{"x:[::g]"}, nil, `invalid IP address in --add-host: "[::g]"`},
		{[]string{"x:" + long}, nil, `invalid IP address in --add-host: "` + long[:64] + `"… (1000 bytes)`},
		{[]string{"noip\x1b"}, nil, `invalid --add-host "noip\x1b": want name:ip or name=ip`},
		{nil, []string{"999.1.1.1"}, `invalid IP address in --dns: "999.1.1.1"`},
		{nil, []string{"1.1.1.1", "dns.example\n"}, `invalid IP address in --dns: "dns.example\n"`},
	} {
		_, err := hostsFile(NetworkNone, "box", nil, tt.hosts)
		if err == nil {
			_, err = resolvConf(Spec{Network: NetworkNone, DNS: tt.dns}, nil)
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("--add-host %q --dns %q: error %v, want %s", tt.hosts, tt.dns, err, tt.want)
		}
	}
}

// TestResolvConfSearchOptions: --dns-search and --dns-option replace the host's lines of
// their kind and keep the rest, as docker's do; "." alone leaves no search line, and values
// that would add a line of their own or are no domain are refused.
func TestResolvConfSearchOptions(t *testing.T) {
	host := "# generated\nnameserver 10.0.0.2\ndomain corp.example\nsearch example.com\noptions edns0\noptions rotate\n"
	for _, tt := range []struct {
		name            string
		search, options []string
		want            string
	}{
		{"search replaces search and domain", []string{"a.example", "b.example."}, nil,
			"# generated\nnameserver 10.0.0.2\noptions edns0\noptions rotate\nsearch a.example b.example.\n"},
		{"dot means none", []string{"."}, nil,
			"# generated\nnameserver 10.0.0.2\noptions edns0\noptions rotate\n"},
		{"options replace options", nil, []string{"ndots:2", "timeout:1"},
			"# generated\nnameserver 10.0.0.2\ndomain corp.example\nsearch example.com\noptions ndots:2 timeout:1\n"},
	} {
		got, err := resolvConf(Spec{Network: NetworkNone, DNSSearch: tt.search, DNSOptions: tt.options}, []byte(host))
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: resolvConf = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "-a.example", "a..example", "123", "a_b.example", "a.example\nnameserver 6.6.6.6", strings.Repeat("a", 255)} {
		if _, err := resolvConf(Spec{DNSSearch: []string{bad}}, nil); err == nil || !strings.Contains(err.Error(), "invalid --dns-search") {
			t.Errorf("--dns-search %q: error %v, want invalid --dns-search", bad, err)
		}
	}
	for _, bad := range []string{"", "ndots:2 rotate", "x\nnameserver 6.6.6.6", "x#y"} {
		if _, err := resolvConf(Spec{DNSOptions: []string{bad}}, nil); err == nil || !strings.Contains(err.Error(), "invalid --dns-option") {
			t.Errorf("--dns-option %q: error %v, want invalid --dns-option", bad, err)
		}
	}
	for in, want := range map[string]string{" a.example ": "a.example", ".": ".", " . ": ".", "A-1.Example.": "A-1.Example."} {
		if got, err := NormalizeDNSSearch(in); err != nil || got != want {
			t.Errorf("NormalizeDNSSearch(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
