package runner

import (
	"strings"
	"testing"
)

// TestCgroupNS: --cgroupns takes docker's values, host and private (or nothing, private), and
// the Spec keeps only host; anything else is refused in one line, at the flag and in a
// config.json that holds it.
func TestCgroupNS(t *testing.T) {
	for _, tt := range []struct {
		in, want, wantErr string
	}{
		{in: "", want: ""},
		{in: "private", want: ""},
		{in: "host", want: CgroupNSHost},
		{in: "Host", wantErr: `--cgroupns: invalid CGROUP mode "Host": want host or private`},
		{in: " host", wantErr: `--cgroupns: invalid CGROUP mode " host": want host or private`},
		{in: "container:x", wantErr: `--cgroupns: invalid CGROUP mode "container:x": want host or private`},
		{in: "a\nb", wantErr: `--cgroupns: invalid CGROUP mode "a\nb": want host or private`},
	} {
		got, err := ParseCgroupNS(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseCgroupNS(%q) = %q, %v; want error %s", tt.in, got, err, tt.wantErr)
			}
		} else if err != nil || got != tt.want {
			t.Errorf("ParseCgroupNS(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		s := Spec{ID: "0123456789ab", Args: []string{"true"}, CgroupNS: tt.in}
		err = s.withDefaults().validateInput()
		if (err != nil) != (tt.wantErr != "") || err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("validateInput with CgroupNS %q = %v, want an error: %v", tt.in, err, tt.wantErr != "")
		}
	}
}
