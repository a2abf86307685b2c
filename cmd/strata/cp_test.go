package main

import "testing"

// TestCpPathRules checks the path helpers against moby's archive package: the trailing "/"
// and "/." that say "a directory" and "its contents", and PrepareArchiveCopy's table.
func TestCpPathRules(t *testing.T) {
	for _, c := range []struct{ arg, ctr, path string }{
		{"c:/etc", "c", "/etc"}, {"c:etc", "c", "etc"}, {"/abs:x", "", "/abs:x"},
		{"./rel:x", "", "./rel:x"}, {"plain", "", "plain"}, {"c:", "c", ""},
	} {
		if ctr, p := splitCpArg(c.arg); ctr != c.ctr || p != c.path {
			t.Errorf("splitCpArg(%q) = %q, %q", c.arg, ctr, p)
		}
	}
	for _, c := range []struct{ cleaned, orig, want string }{
		{"/a/b", "a/b/", "/a/b/"}, {"/a/b", "a/b/.", "/a/b/."}, {"/", "/.", "/."}, {"/a", "a", "/a"},
	} {
		if got := preserveTrailing(c.cleaned, c.orig); got != c.want {
			t.Errorf("preserveTrailing(%q, %q) = %q, want %q", c.cleaned, c.orig, got, c.want)
		}
	}
	for _, c := range []struct {
		src, dst        copyInfo
		dir, name, fail string
	}{
		{copyInfo{path: "/s/f"}, copyInfo{path: "/d/new"}, "/d", "new", ""},
		{copyInfo{path: "/s/f"}, copyInfo{path: "/d/new/"}, "", "", "no such directory"},
		{copyInfo{path: "/s/f"}, copyInfo{path: "/d/file", exists: true}, "/d", "file", ""},
		{copyInfo{path: "/s/f"}, copyInfo{path: "/d", exists: true, isDir: true}, "/d", "f", ""},
		{copyInfo{path: "/s/dir", isDir: true}, copyInfo{path: "/d/new"}, "/d", "new", ""},
		{copyInfo{path: "/s/dir", isDir: true}, copyInfo{path: "/d/file", exists: true}, "", "", "cannot copy directory"},
		{copyInfo{path: "/s/dir", isDir: true}, copyInfo{path: "/d", exists: true, isDir: true}, "/d", "dir", ""},
		{copyInfo{path: "/s/dir/.", isDir: true}, copyInfo{path: "/d", exists: true, isDir: true}, "/d", ".", ""},
		{copyInfo{path: "/s/dir/.", isDir: true}, copyInfo{path: "/d/new"}, "/d", "new", ""},
		{copyInfo{path: "/s/target", rebaseName: "link"}, copyInfo{path: "/d", exists: true, isDir: true}, "/d", "link", ""},
	} {
		dir, name, err := prepareCopy(c.src, c.dst)
		if c.fail != "" {
			if err == nil || err.Error() != c.fail {
				t.Errorf("prepareCopy(%+v, %+v) = %v, want %q", c.src, c.dst, err, c.fail)
			}
			continue
		}
		if err != nil || dir != c.dir || name != c.name {
			t.Errorf("prepareCopy(%+v, %+v) = %q, %q, %v; want %q, %q", c.src, c.dst, dir, name, err, c.dir, c.name)
		}
	}
	for n, want := range map[int64]string{0: "0B", 5: "5B", 999: "999B", 1234: "1.23kB", 2560: "2.56kB", 1_500_000: "1.5MB"} {
		if got := humanSizePrec(n); got != want {
			t.Errorf("humanSizePrec(%d) = %q, want %q", n, got, want)
		}
	}
}
