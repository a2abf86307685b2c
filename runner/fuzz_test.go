package runner

import (
	"path"
	"strings"
	"testing"
)

// FuzzParseFlags feeds hostile -v, --mount, --tmpfs, --user and signal values to the parsers:
// they must return an error or a mount with an absolute, clean target, and never panic.
func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{
		"/a:/b:ro", "type=bind,source=/,target=/x,readonly", "type=tmpfs,target=/t,tmpfs-size=1m",
		"/run:size=64m,mode=1777", "nobody", "1000:1000", "root:wheel", "SIGTERM", "9", ":::", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(name string, target string, err error) {
			oneLine(t, name, s, err)
			if err == nil && (!path.IsAbs(target) || path.Clean(target) != target) {
				t.Errorf("%s(%q) target %q is not absolute and clean", name, s, target)
			}
		}
		m, err := ParseVolume(s)
		check("ParseVolume", m.Target, err)
		m, err = ParseMount(s)
		check("ParseMount", m.Target, err)
		m, err = ParseTmpfs(s)
		check("ParseTmpfs", m.Target, err)
		_, err = ParseSignal(s)
		oneLine(t, "ParseSignal", s, err)
		_, err = parseBytes(s)
		oneLine(t, "parseBytes", s, err)
		passwd := "root:x:0:0::/root:/bin/sh\n" + s + "\n"
		group := "wheel:x:10:root\n" + s + "\n"
		u, err := ResolveUser(s, strings.NewReader(passwd), strings.NewReader(group))
		oneLine(t, "ResolveUser", s, err)
		if err == nil && len(u.Groups) == 0 {
			t.Errorf("ResolveUser(%q) = %+v without groups", s, u)
		}
	})
}
