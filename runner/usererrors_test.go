package runner

import (
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

// TestUserValueErrorsAreShort pins that a container name, a signal or an env variable the
// user gave comes back in an error quoted, escaped and cut, not whole: a 100 KB --name was
// quoted back as a 100 KB line.
func TestUserValueErrorsAreShort(t *testing.T) {
	long := "\x1b]0;x" + strings.Repeat("a", 100000)
	_, sigErr := ParseSignal(long)
	_, numErr := ParseSignal("99" + strings.Repeat("9", 10) + "\x07")
	_, envErr := MergeEnv(nil, []string{"=" + long}, nil)
	for _, tc := range []struct {
		what string
		err  error
		told string
	}{
		{"invalidNameError", invalidNameError(long), "(100005 bytes)"},
		{"ParseSignal", sigErr, "(100005 bytes)"},
		{"ParseSignal number", numErr, `"999999999999\a"`},
		{"MergeEnv", envErr, "(100006 bytes)"},
	} {
		if tc.err == nil {
			t.Errorf("%s(long) = nil error, want one", tc.what)
			continue
		}
		msg := tc.err.Error()
		if len(msg) > 300 || strings.ContainsAny(msg, "\x1b\x07") {
			t.Errorf("%s(long) error is %d bytes %.200q, want it short and escaped", tc.what, len(msg), msg)
		}
		if !strings.Contains(msg, tc.told) {
			t.Errorf("%s(long) error %.300q, want it to hold %s", tc.what, msg, tc.told)
		}
	}
}

// TestMountFlagErrorsAreShort pins that -v, --mount and --tmpfs quote what they refuse
// escaped and cut: each quoted the whole value, twice for --mount, with %q.
func TestMountFlagErrorsAreShort(t *testing.T) {
	long := "\x1b[2J" + strings.Repeat("a", 100000)
	for _, tc := range []struct {
		in    string
		parse func(string) (mount.Mount, error)
	}{
		{"type=tmpfs,dst=/t,tmpfs-mode=" + long, ParseMount},
		{"type=" + long + ",dst=/t", ParseMount},
		{"type=tmpfs,dst=/t,tmpfs-size=" + long, ParseMount},
		{"/a:rel" + long, ParseVolume},
		{"/a:/b:" + long, ParseVolume},
		{"/x:size=" + long, ParseTmpfs},
		{"/x:mode=" + long, ParseTmpfs},
		{"x" + long, ParseTmpfs},
	} {
		_, err := tc.parse(tc.in)
		if err == nil {
			t.Errorf("parsing %.40q = nil error, want one", tc.in)
			continue
		}
		if msg := err.Error(); len(msg) > 400 || strings.ContainsAny(msg, "\x1b\n") || !strings.Contains(msg, " bytes)") {
			t.Errorf("parsing %.40q: error is %d bytes %.300q, want it short, escaped and cut", tc.in, len(msg), msg)
		}
	}
}
