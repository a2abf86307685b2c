package cgroups

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestCgroupParent: --cgroup-parent places the cgroup under strata's parent (relative) or
// the tree's root (absolute), making the parent's directories, with a v1 cpuset's CPUs and
// nodes filled at every level and v2's controllers enabled at every level; Load finds it by
// Key, and Delete leaves the parent, as docker leaves it.
func TestCgroupParent(t *testing.T) {
	for _, tt := range []struct {
		parent, dir string
	}{
		{"a/b", "strata/a/b"},
		{"/top/x", "top/x"},
		{"a//b/", "strata/a/b"},
	} {
		t.Run("v1 "+tt.parent, func(t *testing.T) {
			h := fakeV1(t, fakeOpts{})
			r := Resources{CgroupParent: tt.parent, CpusetCpus: "1", Memory: 64 << 20}
			c, err := h.create("c1", r)
			if err != nil {
				t.Fatal(err)
			}
			for _, ctrl := range []string{"memory", "cpuset", "pids"} {
				if !isDir(filepath.Join(h.root, ctrl, tt.dir, "c1")) {
					t.Errorf("no %s", filepath.Join(ctrl, tt.dir, "c1"))
				}
			}
			if got := readFake(t, filepath.Join(h.root, "cpuset", tt.dir, "cpuset.mems")); got != "0" {
				t.Errorf("parent's cpuset.mems = %q, want the root's", got)
			}
			if got := readFake(t, filepath.Join(h.root, "cpuset", tt.dir, "c1", "cpuset.cpus")); got != "1" {
				t.Errorf("cpuset.cpus = %q", got)
			}
			l, err := h.load(r.Key("c1"))
			if err != nil {
				t.Fatal(err)
			}
			if l.Path() != filepath.Join(h.root, "memory", tt.dir, "c1") {
				t.Errorf("loaded %s", l.Path())
			}
			l.Release()
			if _, err := h.load("c1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("found under strata's own parent: %v", err)
			}
			if err := c.Delete(); err != nil {
				t.Fatal(err)
			}
			if isDir(filepath.Join(h.root, "memory", tt.dir, "c1")) || !isDir(filepath.Join(h.root, "memory", tt.dir)) {
				t.Errorf("after Delete: the cgroup must be gone and its parent kept")
			}
		})
		t.Run("v2 "+tt.parent, func(t *testing.T) {
			h := fakeV2(t, fakeOpts{})
			r := Resources{CgroupParent: tt.parent, Memory: 64 << 20}
			c, err := h.create("c1", r)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Delete()
			dir := filepath.Join(h.root, tt.dir, "c1")
			if got := readFake(t, filepath.Join(dir, "memory.max")); got != "67108864" {
				t.Errorf("memory.max = %q", got)
			}
			if got := readFake(t, filepath.Join(h.root, tt.dir, "cgroup.subtree_control")); !strings.Contains(got, "memory") {
				t.Errorf("parent's subtree_control = %q, want memory enabled", got)
			}
			l, err := h.load(r.Key("c1"))
			if err != nil || l.Path() != dir {
				t.Fatalf("load = %v, %v", l, err)
			}
			l.Release()
		})
	}
}

// TestValidateCgroupParent: no way out of the tree, no root, no parent that strata's sweep
// would take for a container's cgroup.
func TestValidateCgroupParent(t *testing.T) {
	id := strings.Repeat("a", 64)
	for p, want := range map[string]string{
		"":                         "",
		"a":                        "",
		"a/b/c":                    "",
		"/abs/x":                   "",
		"/" + id:                   "",
		"a/" + id:                  "",
		"..":                       `invalid cgroup-parent value "..": ".." would leave the cgroup tree`,
		"../..":                    `".." would leave the cgroup tree`,
		"a/../../b":                `".." would leave the cgroup tree`,
		"/a/..":                    `".." would leave the cgroup tree`,
		"/":                        "the root of the cgroup tree is no parent",
		"//":                       "the root of the cgroup tree is no parent",
		"/.":                       "the root of the cgroup tree is no parent",
		"/././/":                   "the root of the cgroup tree is no parent",
		".":                        `"." names no cgroup`,
		"./.":                      `"." names no cgroup`,
		"/./a":                     "",
		"/strata/x":                "",
		"/strata/" + id:            "a container ID cannot name a parent",
		"/strata//./" + id + "/x":  "a container ID cannot name a parent",
		"a\x00b":                   "invalid cgroup-parent value",
		"a\nb":                     "invalid cgroup-parent value",
		id:                         "a container ID cannot name a parent",
		id + "/x":                  "a container ID cannot name a parent",
		strings.Repeat("x", 256):   "longer than 255",
		strings.Repeat("x/", 3000): "too long",
	} {
		err := ValidateCgroupParent(p)
		switch {
		case want == "" && err != nil:
			t.Errorf("ValidateCgroupParent(%q) = %v", p, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid)):
			t.Errorf("ValidateCgroupParent(%q) = %v, want %q", p, err, want)
		}
	}
	h := fakeV2(t, fakeOpts{})
	if _, err := h.load("../../etc/c1"); !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrNotFound) {
		t.Errorf("load of a key climbing out = %v, want ErrInvalid and ErrNotFound (no such cgroup can exist)", err)
	}
}
