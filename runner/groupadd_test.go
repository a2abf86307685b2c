package runner

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestResolveUserGroups: --group-add values join the user's supplementary groups as docker
// adds them (runc's GetAdditionalGroups): a name or a gid the group file lists gives that
// line's gid, the first line that matches; a number it does not list is taken within
// 0..2^31-1; an unknown name is an error. A gid the process has already is not repeated.
func TestResolveUserGroups(t *testing.T) {
	tests := []struct {
		user     string
		groupAdd []string
		want     []uint32
		wantErr  error
	}{
		{"", []string{"audio"}, []uint32{0, 2, 10, 18}, nil},
		{"", []string{"18", "dev"}, []uint32{0, 2, 10, 18, 500}, nil},
		{"alice", []string{"audio", "wheel"}, []uint32{1000, 10, 18, 500}, nil},
		// An explicit group drops the user's groups, not the added ones.
		{"alice:users", []string{"wheel", "4242"}, []uint32{100, 10, 4242}, nil},
		{"alice:users", []string{"1000"}, []uint32{100, 1000}, nil},
		{"alice:wheel", []string{"wheel", "users"}, []uint32{10, 100}, nil},
		{"4000:4001", []string{"nobody"}, []uint32{4001, 65534}, nil},
		// Numbers as strconv.ParseInt reads them, as runc does.
		{"", []string{"+5", "07", "2147483647"}, []uint32{0, 2, 10, 5, 7, 2147483647}, nil},
		{"", []string{"10", "wheel", "0"}, []uint32{0, 2, 10}, nil},
		{"", []string{"2147483648"}, nil, errIDRange},
		{"", []string{"-1"}, nil, errIDRange},
		{"", []string{"99999999999999999999"}, nil, errIDRange},
		{"", []string{"nosuchgroup"}, nil, ErrUnknownUser},
		{"", []string{"audio", ""}, nil, ErrUnknownUser},
		{"", []string{"1e3"}, nil, ErrUnknownUser},
	}
	for _, tt := range tests {
		t.Run(tt.user+"+"+strings.Join(tt.groupAdd, ","), func(t *testing.T) {
			passwd, group := openUserFiles(t)
			got, err := ResolveUserGroups(tt.user, tt.groupAdd, passwd, group)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ResolveUserGroups(%q, %q) = %+v, %v; want %v", tt.user, tt.groupAdd, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got.Groups, tt.want) {
				t.Fatalf("ResolveUserGroups(%q, %q) groups = %v, %v; want %v", tt.user, tt.groupAdd, got.Groups, err, tt.want)
			}
		})
	}
}

// TestResolveUserGroupsFiles covers what the group file holds: none (names fail, numbers
// pass), a group named as a number (the first line matching by name or gid wins, as in
// runc), a listed gid past 2^31-1 (accepted, as runc checks the range only of an unlisted
// one), and a group found early in a file too big to read (the rest is not read).
func TestResolveUserGroupsFiles(t *testing.T) {
	resolve := func(groupAdd []string, group io.Reader) ([]uint32, error) {
		u, err := ResolveUserGroups("0:0", groupAdd, nil, group)
		return u.Groups, err
	}
	if _, err := resolve([]string{"audio"}, nil); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("a name without a group file: %v, want %v", err, ErrUnknownUser)
	}
	if got, err := resolve([]string{"29"}, nil); err != nil || !slices.Equal(got, []uint32{0, 29}) {
		t.Errorf("a number without a group file: %v, %v; want [0 29]", got, err)
	}
	const file = "1234:x:77:\nstaff:x:1234:\nbig:x:3000000000:\nstaff:x:50:\n"
	for _, tt := range []struct {
		add  string
		want uint32
	}{{"1234", 77}, {"staff", 1234}, {"3000000000", 3000000000}, {"big", 3000000000}} {
		if got, err := resolve([]string{tt.add}, strings.NewReader(file)); err != nil || !slices.Equal(got, []uint32{0, tt.want}) {
			t.Errorf("--group-add %s: %v, %v; want [0 %d]", tt.add, got, err, tt.want)
		}
	}
	huge := io.MultiReader(strings.NewReader("audio:x:29:\n"), zeros{})
	if got, err := resolve([]string{"audio"}, huge); err != nil || !slices.Equal(got, []uint32{0, 29}) {
		t.Errorf("a group on the first line of an endless file: %v, %v; want [0 29]", got, err)
	}
	huge = io.MultiReader(strings.NewReader("audio:x:29:\n"), zeros{})
	if _, err := resolve([]string{"audio", "video"}, huge); !errors.Is(err, errFileTooBig) {
		t.Errorf("a group not in the first %d MiB of an endless file: %v, want %v", maxUserFile>>20, err, errFileTooBig)
	}
}

// TestResolveUserGroupsMessages: the errors read as docker's and stay one short line.
func TestResolveUserGroupsMessages(t *testing.T) {
	for _, tt := range []struct{ add, want string }{
		{"nosuchgroup", "unable to find group nosuchgroup: no matching entries in group file"},
		{"-1", "unable to find group -1: uids and gids must be in range 0-2147483647"},
		{"a\nb", `unable to find group "a\nb": no matching entries in group file`},
		{strings.Repeat("g", 1<<20), `unable to find group "ggg`},
	} {
		_, err := ResolveUserGroups("", []string{tt.add}, nil, strings.NewReader("root:x:0:\n"))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") || len(err.Error()) > 200 {
			t.Errorf("ResolveUserGroups(--group-add %.20q) = %.200v, want one short line starting %q", tt.add, err, tt.want)
		}
	}
	// -u's user and group parts are named the same way: a newline in one broke the line.
	for _, tt := range []struct{ user, want string }{
		{"nosuch", "unable to find user nosuch: no matching entries in passwd file"},
		{"root\n", `unable to find user "root\n": no matching entries in passwd file`},
		{"0:a\nb", `unable to find group "a\nb": no matching entries in group file`},
		{strings.Repeat("u", 1<<20), `unable to find user "uuu`},
	} {
		_, err := ResolveUserGroups(tt.user, nil, strings.NewReader("root:x:0:0::/root:/bin/sh\n"), strings.NewReader("root:x:0:\n"))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") || len(err.Error()) > 200 {
			t.Errorf("ResolveUserGroups(-u %.20q) = %.200v, want one short line starting %q", tt.user, err, tt.want)
		}
	}
}

func openUserFiles(t *testing.T) (passwd, group *os.File) {
	t.Helper()
	passwd, err := os.Open("testdata/passwd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { passwd.Close() })
	group, err = os.Open("testdata/group")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { group.Close() })
	return passwd, group
}

// zeros reads as an endless run of NUL bytes, as a sparse file does.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
