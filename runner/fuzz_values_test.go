package runner

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// oneLine fails t when err, the error of a parser given what a user or an image wrote, is
// not one short line: the values it quotes back must be escaped and cut (quote.Value).
func oneLine(t *testing.T, what string, in any, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || len(msg) > 2048 {
		t.Errorf("%s(%.100q) error is not one short line: %.300q (%d bytes)", what, in, msg, len(msg))
	}
}

// FuzzFlagValues feeds hostile values of run's other flags (--ulimit, --device, --log-opt,
// --label, --sysctl, --restart, --detach-keys, --time-offset, --volumes-from, --dns-option,
// the namespace modes, enter's namespaces) to their parsers: each returns a value or a
// one-line error, never a panic; a --device that parses has an absolute, clean container path
// outside /proc and /sys.
func FuzzFlagValues(f *testing.F) {
	for _, s := range []string{
		"nofile=1024:2048", "nproc=-1", "core=1:0", "/dev/sda:/dev/xvda:rwm", "/dev/null:r",
		"/dev/fuse:/proc/x", "max-size=10m", "max-file=3", "env-regex=^X_", "labels-regex=(", "tag={{.Name}}/{{.ID}}", "labels=a,b",
		"a=b", "net.ipv4.ip_forward=1", "on-failure:5", "unless-stopped", "ctrl-p,ctrl-q",
		"monotonic=-86400,boottime=1.5", "c1:ro", "ndots:5", "container:x", "host", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseUlimits([]string{s, s})
		oneLine(t, "ParseUlimits", s, err)
		d, err := ParseDevice(s)
		oneLine(t, "ParseDevice", s, err)
		if err == nil {
			if p := d.PathInContainer; !path.IsAbs(p) || path.Clean(p) != p || underKernelFS(p) || p == "/" {
				t.Errorf("ParseDevice(%q) container path %q", s, p)
			}
		}
		_, err = ParseLogConfig("", []string{s})
		oneLine(t, "ParseLogConfig", s, err)
		_, err = renderSimpleLogTag(s, &sampleLogInfo)
		oneLine(t, "renderSimpleLogTag", s, err)
		oneLine(t, "ValidateLabel", s, ValidateLabel(s))
		if _, err := MergeLabels(map[string]string{"a": s}, []string{s}, nil); err == nil && ValidateLabel(s) != nil {
			t.Errorf("MergeLabels took label %q, which ValidateLabel refuses", s)
		} else {
			oneLine(t, "MergeLabels", s, err)
		}
		_, _, err = ParseSysctl(s)
		oneLine(t, "ParseSysctl", s, err)
		if k, v, err := ParseSysctl(s); err == nil {
			oneLine(t, "validateSysctl", s, validateSysctl(k, v, "none"))
		}
		_, err = ParseRestartPolicy(s)
		oneLine(t, "ParseRestartPolicy", s, err)
		_, err = ParseDetachKeys(s)
		oneLine(t, "ParseDetachKeys", s, err)
		_, err = ParseTimeNamespace([]string{s}, s)
		oneLine(t, "ParseTimeNamespace", s, err)
		_, _, err = ParseVolumesFrom(s)
		oneLine(t, "ParseVolumesFrom", s, err)
		_, err = ParseNamespaces([]string{s})
		oneLine(t, "ParseNamespaces", s, err)
		oneLine(t, "CheckDNSOption", s, CheckDNSOption(s))
		oneLine(t, "ValidateVolumeName", s, ValidateVolumeName(s))
		for name, parse := range map[string]func(string) (string, error){
			"ParsePidMode": ParsePidMode, "ParseIpcMode": ParseIpcMode, "ParseUTSMode": ParseUTSMode, "ParseCgroupNS": ParseCgroupNS,
		} {
			_, err := parse(s)
			oneLine(t, name, s, err)
		}
	})
}

// FuzzUserFiles resolves hostile --user and --group-add values against hostile passwd and
// group files from an image: a user, or a one-line error, never a panic.
func FuzzUserFiles(f *testing.F) {
	passwd, group := alpineUserFiles(f)
	for _, s := range [][2]string{{"", ""}, {"nobody", "wheel"}, {"0:0", "10"}, {"root:wheel", "-1"}, {"65534:x", "nogroup"}} {
		f.Add(s[0], s[1], passwd, group)
	}
	// The hand-written fixtures of runner/testdata: a comment, a malformed line, a
	// non-numeric uid.
	if p, err := os.ReadFile("testdata/passwd"); err == nil {
		if g, err := os.ReadFile("testdata/group"); err == nil {
			f.Add("nobody", "wheel", p, g)
		}
	}
	f.Add("a:b", "c", []byte("a:x:1:2::/h:/s\n#c\n\n"+strings.Repeat("x", 70000)+"\n"), []byte("b:x:3:a,a, a\nc:x:+4:\n"))
	f.Fuzz(func(t *testing.T, spec, groupAdd string, passwd, group []byte) {
		u, err := ResolveUserGroups(spec, []string{groupAdd}, bytes.NewReader(passwd), bytes.NewReader(group))
		oneLine(t, "ResolveUserGroups", spec, err)
		if err == nil && len(u.Groups) == 0 {
			t.Errorf("ResolveUserGroups(%q) = %+v without groups", spec, u)
		}
	})
}

// alpineUserFiles are /etc/passwd and /etc/group of the alpine minirootfs in testdata, copied
// out of it: reading them from its tarball took archive/tar, whose os/user linked the test
// binary dynamically (cgo), and the tests that run it inside a container then failed.
func alpineUserFiles(f *testing.F) (passwd, group []byte) {
	passwd, err := os.ReadFile("testdata/alpine-etc/passwd")
	if err == nil {
		group, err = os.ReadFile("testdata/alpine-etc/group")
	}
	if err != nil {
		f.Fatal(err)
	}
	return passwd, group
}

// FuzzKVFile reads hostile --env-file and --label-file contents: an environment and labels,
// or a one-line error naming the file, never a panic.
func FuzzKVFile(f *testing.F) {
	for _, s := range []string{
		"A=1\n# c\n\n  B=2\nC\n", "\ufeffA=1\r\n", "A B=1\n", "=x\n", "a\x00=1\n", "\xff=1\n",
		"l=" + strings.Repeat("v", 100) + "\n", "k\tv\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		n++
		file := filepath.Join(dir, "f"+strings.Repeat("x", n%3)+string(rune('a'+n%26)))
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		forget := func() {
			for _, max := range []int64{maxEnvFile, maxLabelBytes} {
				if v, ok := userFiles.LoadAndDelete(userFileKey{file, max}); ok {
					userFilesMu.Lock()
					userFilesRead -= int64(len(v.(userFileResult).data))
					userFilesMu.Unlock()
				}
			}
		}
		forget()
		defer forget()
		env, err := MergeEnv([]string{"PATH=/bin"}, nil, []string{file})
		oneLine(t, "MergeEnv", data, err)
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); k == "" || strings.IndexByte(kv, 0) >= 0 {
				t.Errorf("MergeEnv of %q gave %q", data, kv)
			}
		}
		labels, err := MergeLabels(nil, nil, []string{file})
		oneLine(t, "MergeLabels", data, err)
		for k, v := range labels {
			if ValidateLabel(k+"="+v) != nil {
				t.Errorf("MergeLabels of %q gave label %q=%q, which ValidateLabel refuses", data, k, v)
			}
		}
	})
}
