package runner

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// repeatReader yields line over and over, size bytes in all, and counts what was read.
type repeatReader struct {
	line       []byte
	size, read int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.read >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.read < r.size {
		c := copy(p[n:], r.line[r.read%int64(len(r.line)):])
		if left := r.size - r.read; int64(c) > left {
			c = int(left)
		}
		n += c
		r.read += int64(c)
	}
	return n, nil
}

// TestResolveUserHugeFiles: an image's /etc/passwd or /etc/group may be a sparse file of
// many GB (holes read as zeros) or gigabytes of lines: ResolveUser stops reading at
// maxUserFile with an error, and at the entry it needs in passwd, as the first one wins.
func TestResolveUserHugeFiles(t *testing.T) {
	const size = 256 << 20
	t.Run("passwd of filler lines", func(t *testing.T) {
		r := &repeatReader{line: []byte("a:x:1:1::/:/bin/sh\n"), size: size}
		_, err := ResolveUser("w", r, nil)
		if err == nil || !strings.Contains(err.Error(), "passwd file: larger than") {
			t.Errorf("ResolveUser(w, 256 MiB passwd) = %v, want 'larger than'", err)
		}
		if r.read > maxUserFile+1<<20 {
			t.Errorf("ResolveUser(w) read %d MiB of passwd, want at most %d", r.read>>20, maxUserFile>>20)
		}
	})
	t.Run("passwd of zeros", func(t *testing.T) {
		// A sparse file: one line of zeros, never ending.
		r := &repeatReader{line: make([]byte, 4096), size: size}
		if _, err := ResolveUser("w", r, nil); err == nil {
			t.Errorf("ResolveUser(w, 256 MiB of zeros) = nil error, want one")
		}
		if r.read > maxUserFile+1<<20 {
			t.Errorf("ResolveUser(w) read %d MiB of passwd, want at most %d", r.read>>20, maxUserFile>>20)
		}
	})
	t.Run("the entry comes first", func(t *testing.T) {
		for _, spec := range []string{"", "w", "7:9"} {
			filler := &repeatReader{line: []byte("a:x:1:1::/:/bin/sh\n"), size: size}
			r := io.MultiReader(strings.NewReader("root:x:0:0::/root:/bin/sh\nw:x:7:8::/home/w:/bin/sh\n"), filler)
			if _, err := ResolveUser(spec, r, nil); err != nil {
				t.Errorf("ResolveUser(%q) = %v, want the entry before the filler", spec, err)
			}
			if filler.read > 1<<20 {
				t.Errorf("ResolveUser(%q) read %d MiB past its entry", spec, filler.read>>20)
			}
		}
	})
	t.Run("group of filler lines", func(t *testing.T) {
		passwd := strings.NewReader("w:x:7:8::/home/w:/bin/sh\n")
		r := &repeatReader{line: []byte("g:x:1:a,b\n"), size: size}
		_, err := ResolveUser("w", passwd, r)
		if err == nil || !strings.Contains(err.Error(), "group file: larger than") {
			t.Errorf("ResolveUser(w, 256 MiB group) = %v, want 'larger than'", err)
		}
		if r.read > maxUserFile+1<<20 {
			t.Errorf("ResolveUser(w) read %d MiB of group, want at most %d", r.read>>20, maxUserFile>>20)
		}
	})
}

// TestResolveUserLongLines: a line longer than strata reads of one (a gecos field of 2 MB) is
// skipped, as a line that does not parse is; the entries after it still count. It failed
// every run of the image, root's too, with "bufio.Scanner: token too long".
func TestResolveUserLongLines(t *testing.T) {
	long := strings.Repeat("y", 2<<20)
	passwd := "junk" + long + "\nroot:x:0:0::/root:/bin/sh\nw:x:7:8:" + long + ":/home/w:/bin/sh\nw:x:9:9::/home/w2:/bin/sh"
	group := "g" + long + ":x:3:w\nwg:x:77:w\n" + long
	for spec, want := range map[string]User{
		"":     {UID: 0, GID: 0, Groups: []uint32{0}, Home: "/root"},
		"w":    {UID: 9, GID: 9, Groups: []uint32{9, 77}, Home: "/home/w2"},
		"0:wg": {UID: 0, GID: 77, Groups: []uint32{77}, Home: "/root"},
	} {
		got, err := ResolveUser(spec, strings.NewReader(passwd), strings.NewReader(group))
		if err != nil || got.UID != want.UID || got.GID != want.GID || got.Home != want.Home || !slices.Equal(got.Groups, want.Groups) {
			t.Errorf("ResolveUser(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
}

// TestResolveUserManyGroups: the supplementary groups are each gid once, however many lines
// repeat it, and more than the kernel's NGROUPS_MAX is an error naming the limit, not a
// setgroups EINVAL after all of them were collected.
func TestResolveUserManyGroups(t *testing.T) {
	passwd := "w:x:7:8::/home/w:/bin/sh\n"
	dup := bytes.Repeat([]byte("wg:x:77:w\n"), 1<<20)
	got, err := ResolveUser("w", strings.NewReader(passwd), bytes.NewReader(dup))
	if err != nil || !slices.Equal(got.Groups, []uint32{8, 77}) {
		t.Errorf("ResolveUser(w, 1M lines of one group) = %+v, %v; want groups [8 77]", got, err)
	}
	var many bytes.Buffer
	for i := range maxGroups + 1 {
		fmt.Fprintf(&many, "g%d:x:%d:w\n", i, 100+i)
	}
	if got, err := ResolveUser("w", strings.NewReader(passwd), bytes.NewReader(many.Bytes())); err == nil || !strings.Contains(err.Error(), "groups") {
		t.Errorf("ResolveUser(w, %d groups) = %d groups, %v; want an error", maxGroups+1, len(got.Groups), err)
	}
	// With an explicit group the others do not count.
	if got, err := ResolveUser("w:5", strings.NewReader(passwd), bytes.NewReader(many.Bytes())); err != nil || !slices.Equal(got.Groups, []uint32{5}) {
		t.Errorf("ResolveUser(w:5, %d groups) = %+v, %v; want groups [5]", maxGroups+1, got, err)
	}
}

// TestResolveUserHostileEntries: passwd and group lines an image author made odd. A line
// whose ids do not parse as a uid or gid below 2^32-1 is skipped, as runc refuses it; a
// name with a NUL byte is a name that matches nothing; the first of two entries wins.
func TestResolveUserHostileEntries(t *testing.T) {
	const root = "root:x:0:0:root:/root:/bin/sh\n"
	for _, tt := range []struct {
		name, passwd, group, spec string
		want                      User
		wantErr                   string
	}{
		{name: "no newline at the end", passwd: root + "w:x:7:8::/home/w:/bin/sh", spec: "w",
			want: User{UID: 7, GID: 8, Groups: []uint32{8}, Home: "/home/w"}},
		{name: "two entries, the first wins", passwd: root + "w:x:7:8::/a:/bin/sh\nw:x:9:9::/b:/bin/sh\n", spec: "w",
			want: User{UID: 7, GID: 8, Groups: []uint32{8}, Home: "/a"}},
		{name: "NUL in a name", passwd: root + "w\x00:x:7:8::/a:/bin/sh\nw:x:9:9::/b:/bin/sh\n", spec: "w",
			want: User{UID: 9, GID: 9, Groups: []uint32{9}, Home: "/b"}},
		{name: "NUL in a uid", passwd: root + "w:x:7\x00:8::/a:/bin/sh\n", spec: "w", wantErr: "unable to find user w"},
		{name: "a uid of 2^36", passwd: root + "w:x:68719476736:8::/a:/bin/sh\n", spec: "w", wantErr: "unable to find user w"},
		{name: "a negative uid", passwd: root + "w:x:-7:8::/a:/bin/sh\n", spec: "w", wantErr: "unable to find user w"},
		{name: "a negative gid", passwd: root + "w:x:7:-8::/a:/bin/sh\n", spec: "w", wantErr: "unable to find user w"},
		{name: "the reserved uid", passwd: root + "w:x:4294967295:8::/a:/bin/sh\n", spec: "w", wantErr: "unable to find user w"},
		{name: "a group of the reserved gid", passwd: root + "w:x:7:8::/a:/bin/sh\n", group: "g:x:4294967295:w\nh:x:5:w\n", spec: "w",
			want: User{UID: 7, GID: 8, Groups: []uint32{8, 5}, Home: "/a"}},
		{name: "a group named twice", passwd: root, group: "g:x:5:\ng:x:6:\n", spec: "root:g",
			want: User{UID: 0, GID: 5, Groups: []uint32{5}, Home: "/root"}},
		{name: "only colons", passwd: "::::::\n:::\n" + root, group: ":::\n", spec: "",
			want: User{UID: 0, GID: 0, Groups: []uint32{0}, Home: "/root"}},
		// runc reads the first two colon-separated fields and ignores the rest.
		{name: "0:0:0", passwd: root, spec: "0:0:0", want: User{UID: 0, GID: 0, Groups: []uint32{0}, Home: "/root"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveUser(tt.spec, strings.NewReader(tt.passwd), strings.NewReader(tt.group))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ResolveUser(%q) = %+v, %v; want %q", tt.spec, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.UID != tt.want.UID || got.GID != tt.want.GID || got.Home != tt.want.Home || !slices.Equal(got.Groups, tt.want.Groups) {
				t.Errorf("ResolveUser(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
			}
		})
	}
}
