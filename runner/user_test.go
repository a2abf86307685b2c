package runner

import (
	"errors"
	"os"
	"slices"
	"testing"
)

func TestResolveUser(t *testing.T) {
	tests := []struct {
		spec    string
		want    User
		wantErr error
	}{
		{"", User{UID: 0, GID: 0, Groups: []uint32{0, 2, 10}, Home: "/root"}, nil},
		{"root", User{UID: 0, GID: 0, Groups: []uint32{0, 2, 10}, Home: "/root"}, nil},
		{"alice", User{UID: 1000, GID: 1000, Groups: []uint32{1000, 10, 18, 500}, Home: "/home/alice"}, nil},
		{"1000", User{UID: 1000, GID: 1000, Groups: []uint32{1000, 10, 18, 500}, Home: "/home/alice"}, nil},
		{"bob", User{UID: 1001, GID: 100, Groups: []uint32{100, 18, 500}, Home: "/home/bob"}, nil},
		{"nobody", User{UID: 65534, GID: 65534, Groups: []uint32{65534}, Home: "/"}, nil},
		// An explicit group replaces the primary one and drops the supplementary ones.
		{"alice:users", User{UID: 1000, GID: 100, Groups: []uint32{100}, Home: "/home/alice"}, nil},
		{"alice:4242", User{UID: 1000, GID: 4242, Groups: []uint32{4242}, Home: "/home/alice"}, nil},
		// A uid missing from passwd is fine, with gid 0, as docker.
		{"4000", User{UID: 4000, GID: 0, Groups: []uint32{0}, Home: "/"}, nil},
		{"4000:4001", User{UID: 4000, GID: 4001, Groups: []uint32{4001}, Home: "/"}, nil},
		{"mallory", User{}, ErrUnknownUser},
		{"alice:nogroupnamed", User{}, ErrUnknownUser},
		{"eve", User{}, ErrUnknownUser},
		// As docker: an empty user is uid 0, an empty group none.
		{":", User{UID: 0, GID: 0, Groups: []uint32{0, 2, 10}, Home: "/root"}, nil},
		{":wheel", User{UID: 0, GID: 10, Groups: []uint32{10}, Home: "/root"}, nil},
		{"alice:", User{UID: 1000, GID: 1000, Groups: []uint32{1000, 10, 18, 500}, Home: "/home/alice"}, nil},
		{"4294967295", User{}, errIDRange},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			passwd, err := os.Open("testdata/passwd")
			if err != nil {
				t.Fatal(err)
			}
			defer passwd.Close()
			group, err := os.Open("testdata/group")
			if err != nil {
				t.Fatal(err)
			}
			defer group.Close()
			got, err := ResolveUser(tt.spec, passwd, group)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ResolveUser(%q) = %+v, want an error", tt.spec, got)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ResolveUser(%q) error = %v, want %v", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveUser(%q) = %v", tt.spec, err)
			}
			if got.UID != tt.want.UID || got.GID != tt.want.GID || got.Home != tt.want.Home || !slices.Equal(got.Groups, tt.want.Groups) {
				t.Errorf("ResolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestResolveUserNoFiles(t *testing.T) {
	// An image without /etc/passwd (scratch, distroless) runs numeric users only.
	got, err := ResolveUser("123:456", nil, nil)
	if err != nil || got.UID != 123 || got.GID != 456 {
		t.Errorf("ResolveUser(123:456, no files) = %+v, %v", got, err)
	}
	if _, err := ResolveUser("root", nil, nil); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("ResolveUser(root, no files) = %v, want ErrUnknownUser", err)
	}
}
