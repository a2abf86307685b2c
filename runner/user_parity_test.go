package runner

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestResolveUserIDRange pins docker's range for numeric ids: runc's libcontainer/user
// refuses a uid or gid past 2^31-1 (or negative) that passwd or group does not list, with
// "uids and gids must be in range 0-2147483647", and takes one they list. strata ran
// -u 3000000000 as that uid.
func TestResolveUserIDRange(t *testing.T) {
	const passwd = "root:x:0:0::/root:/bin/sh\nbig:x:3000000000:5::/home/big:/bin/sh\n"
	const group = "root:x:0:\nbigg:x:3000000001:big\n"
	for _, tt := range []struct {
		spec    string
		want    User
		wantErr string
	}{
		{spec: "3000000000:0", want: User{UID: 3000000000, GID: 0, Groups: []uint32{0}, Home: "/home/big"}},
		{spec: "big", want: User{UID: 3000000000, GID: 5, Groups: []uint32{5, 3000000001}, Home: "/home/big"}},
		{spec: "0:3000000001", want: User{UID: 0, GID: 3000000001, Groups: []uint32{3000000001}, Home: "/root"}},
		{spec: "2147483647", want: User{UID: 2147483647, GID: 0, Groups: []uint32{0}, Home: "/"}},
		{spec: "2147483647:2147483647", want: User{UID: 2147483647, GID: 2147483647, Groups: []uint32{2147483647}, Home: "/"}},
		{spec: "2147483648", wantErr: "unable to find user 2147483648: uids and gids must be in range 0-2147483647"},
		{spec: "3000000001", wantErr: "unable to find user 3000000001: uids and gids"},
		{spec: "3000000001:0", wantErr: "unable to find user 3000000001: uids and gids"},
		{spec: "4294967294", wantErr: "unable to find user 4294967294: uids and gids"},
		{spec: "4294967295", wantErr: "unable to find user 4294967295: uids and gids"},
		{spec: "4294967296", wantErr: "unable to find user 4294967296: uids and gids"},
		{spec: "99999999999999999999", wantErr: "unable to find user 99999999999999999999: uids and gids"},
		{spec: "-1", wantErr: "unable to find user -1: uids and gids"},
		{spec: "0:3000000000", wantErr: "unable to find group 3000000000: uids and gids"},
		{spec: "0:2147483648", wantErr: "unable to find group 2147483648: uids and gids"},
		{spec: "0:-1", wantErr: "unable to find group -1: uids and gids"},
		{spec: "big:4294967295", wantErr: "unable to find group 4294967295: uids and gids"},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ResolveUser(tt.spec, strings.NewReader(passwd), strings.NewReader(group))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errIDRange) {
					t.Errorf("ResolveUser(%q) = %+v, %v; want %q", tt.spec, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !sameUser(got, tt.want) {
				t.Errorf("ResolveUser(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
			}
		})
	}
	// Without the files a number is judged alone.
	if _, err := ResolveUser("3000000000", nil, nil); !errors.Is(err, errIDRange) {
		t.Errorf("ResolveUser(3000000000, no files) = %v, want %v", err, errIDRange)
	}
}

// TestResolveUserDockerForms pins how docker reads a --user value (runc's GetExecUser, which
// splits at colons and reads numbers with strconv.Atoi): an empty user is uid 0 looked up
// in passwd, an empty group is none, a signed number is a number, and a number never names
// a user or group even when one is called so.
func TestResolveUserDockerForms(t *testing.T) {
	const passwd = "root:x:0:0::/root:/bin/sh\nw:x:7:8::/home/w:/bin/sh\n5:x:9:9::/home/five:/bin/sh\n"
	const group = "root:x:0:\nwheel:x:10:root,w\n8:x:80:\n"
	for _, tt := range []struct {
		spec string
		want User
	}{
		{":", User{UID: 0, GID: 0, Groups: []uint32{0, 10}, Home: "/root"}},
		{":wheel", User{UID: 0, GID: 10, Groups: []uint32{10}, Home: "/root"}},
		{":8", User{UID: 0, GID: 8, Groups: []uint32{8}, Home: "/root"}},
		{"w:", User{UID: 7, GID: 8, Groups: []uint32{8, 10}, Home: "/home/w"}},
		{"+7", User{UID: 7, GID: 8, Groups: []uint32{8, 10}, Home: "/home/w"}},
		{"007", User{UID: 7, GID: 8, Groups: []uint32{8, 10}, Home: "/home/w"}},
		{"w:+10", User{UID: 7, GID: 10, Groups: []uint32{10}, Home: "/home/w"}},
		{"-0", User{UID: 0, GID: 0, Groups: []uint32{0, 10}, Home: "/root"}},
		// The user named 5 is not uid 5, nor the group named 8 gid 80.
		{"5", User{UID: 5, GID: 0, Groups: []uint32{0}, Home: "/"}},
		{"0:8", User{UID: 0, GID: 8, Groups: []uint32{8}, Home: "/root"}},
		// Fields past the second are ignored, as runc's parseLine ignores them.
		{"0:0:0", User{UID: 0, GID: 0, Groups: []uint32{0}, Home: "/root"}},
		{"w:wheel:junk:", User{UID: 7, GID: 10, Groups: []uint32{10}, Home: "/home/w"}},
		{"w::x", User{UID: 7, GID: 8, Groups: []uint32{8, 10}, Home: "/home/w"}},
	} {
		got, err := ResolveUser(tt.spec, strings.NewReader(passwd), strings.NewReader(group))
		if err != nil || !sameUser(got, tt.want) {
			t.Errorf("ResolveUser(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
		}
	}
}

// TestResolveUserHugeFilesNumeric: a passwd past the 64 MiB strata reads stops a numeric uid
// with an explicit group no more, as docker, which reads the file to its end, runs it: the
// rest could only hold the uid's home. What strata reads stays bounded, and the forms whose
// result the rest could change (a name, a uid alone, whose entry sets the gid) still fail.
func TestResolveUserHugeFilesNumeric(t *testing.T) {
	const size = 256 << 20
	// Lines in blocks of 4 KB: the reader copies one block at a time.
	lines := bytes.Repeat([]byte("a:x:1:1::/a:/bin/sh\n"), 200)
	filler := func() *repeatReader { return &repeatReader{line: lines, size: size} }
	zeros := func() *repeatReader { return &repeatReader{line: make([]byte, 4096), size: size} }
	for _, tt := range []struct {
		name    string
		passwd  func() *repeatReader
		spec    string
		want    User
		wantErr string
	}{
		{name: "uid:gid, filler", passwd: filler, spec: "7:9", want: User{UID: 7, GID: 9, Groups: []uint32{9}, Home: "/"}},
		{name: "uid:gid, zeros", passwd: zeros, spec: "0:0", want: User{UID: 0, GID: 0, Groups: []uint32{0}, Home: "/"}},
		{name: "uid:group, filler", passwd: filler, spec: "7:wg", want: User{UID: 7, GID: 77, Groups: []uint32{77}, Home: "/"}},
		{name: "listed uid:gid, filler", passwd: filler, spec: "1:5", want: User{UID: 1, GID: 5, Groups: []uint32{5}, Home: "/a"}},
		{name: "uid alone, filler", passwd: filler, spec: "7", wantErr: "passwd file: larger than"},
		{name: "default user, zeros", passwd: zeros, spec: "", wantErr: "passwd file: larger than"},
		// Past 2^31-1 only a listed uid goes: the rest might list it.
		{name: "uid past 2^31-1, filler", passwd: filler, spec: "3000000000:0", wantErr: "passwd file: larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.passwd()
			got, err := ResolveUser(tt.spec, r, strings.NewReader("wg:x:77:\n"))
			if r.read > maxUserFile+1<<20 {
				t.Errorf("ResolveUser(%q) read %d MiB of passwd, want at most %d", tt.spec, r.read>>20, maxUserFile>>20)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ResolveUser(%q, 256 MiB passwd) = %+v, %v; want %q", tt.spec, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !sameUser(got, tt.want) {
				t.Errorf("ResolveUser(%q, 256 MiB passwd) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
			}
		})
	}
	// A numeric gid reads no group file at all, however big.
	g := &repeatReader{line: []byte("g:x:1:a,b\n"), size: size}
	if got, err := ResolveUser("7:9", strings.NewReader("w:x:7:8::/home/w:/bin/sh\n"), g); err != nil || got.GID != 9 || g.read != 0 {
		t.Errorf("ResolveUser(7:9, 256 MiB group) = %+v, %v after %d bytes of group; want gid 9, none read", got, err, g.read)
	}
}

func sameUser(a, b User) bool {
	return a.UID == b.UID && a.GID == b.GID && a.Home == b.Home && slices.Equal(a.Groups, b.Groups)
}
