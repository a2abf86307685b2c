package main

import (
	"strings"
	"testing"
	"time"
)

// TestImagesFilter: `images REPOSITORY[:TAG]` and `images --filter`, as docker reads them.
func TestImagesFilter(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.com/bb:1", "localhost:5000/app:v2"} {
		if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", name); err != nil {
			t.Fatal(err)
		}
	}
	names := func(args ...string) string {
		t.Helper()
		out, err := strata(t, root, nil, append([]string{"images", "--format", "{{.Repository}}:{{.Tag}}"}, args...)...)
		if err != nil {
			t.Fatalf("images %q: %v", args, err)
		}
		return strings.Join(strings.Fields(out), " ")
	}
	all := names()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"busybox"}, "busybox:1.38.0-musl"},
		{[]string{"busybox:1.38.0-musl"}, "busybox:1.38.0-musl"},
		{[]string{"busybox:latest"}, ""},
		{[]string{"-f", "reference=*/*:1"}, "example.com/bb:1"},
		{[]string{"-f", "reference=localhost:5000/*"}, "localhost:5000/app:v2"},
		// Values of one key are alternatives; different keys must all match.
		{[]string{"-f", "reference=busybox", "-f", "reference=example.com/bb"}, "busybox:1.38.0-musl example.com/bb:1"},
		{[]string{"-f", "reference=busybox", "-f", "dangling=true"}, ""},
		{[]string{"-f", "dangling=false"}, all},
		// Every name is of the same image, so none was created before or after it.
		{[]string{"-f", "since=busybox:1.38.0-musl"}, ""},
		{[]string{"-f", "before=example.com/bb:1"}, ""},
		// As docker's: the argument is a pattern no name matches, not an error.
		{[]string{"Bad Name"}, ""},
	}
	for _, tt := range tests {
		if got := names(tt.args...); got != tt.want {
			t.Errorf("images %q = %q, want %q", tt.args, got, tt.want)
		}
	}
	for _, bad := range [][]string{
		{"-f", "bogus=1"}, {"-f", "reference"}, {"-f", "reference=["}, {"-f", "dangling=maybe"},
		{"-f", "since=nosuch"}, {"a", "b"},
	} {
		if _, err := strata(t, root, nil, append([]string{"images"}, bad...)...); err == nil {
			t.Errorf("images %q succeeded, want an error", bad)
		}
	}
}

func TestImageFilterTimes(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []imageRow{
		{Repository: "old", Tag: "1", CreatedAt: t0},
		{Repository: "mid", Tag: "1", CreatedAt: t0.Add(time.Hour)},
		{Repository: "new", Tag: "1", CreatedAt: t0.Add(2 * time.Hour)},
	}
	tests := []struct {
		f    imageFilter
		want string
	}{
		{imageFilter{before: []time.Time{t0.Add(time.Hour)}}, "old"},
		{imageFilter{since: []time.Time{t0.Add(time.Hour)}}, "new"},
		{imageFilter{since: []time.Time{t0}, before: []time.Time{t0.Add(2 * time.Hour)}}, "mid"},
		{imageFilter{references: []string{"?id"}}, "mid"},
	}
	for _, tt := range tests {
		var got []string
		for _, r := range rows {
			if tt.f.match(r) {
				got = append(got, r.Repository)
			}
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("%+v matched %q, want %q", tt.f, g, tt.want)
		}
	}
}

// TestImagesTableWidths: the table has docker's widths (columns at least 10 wide, 3 spaces
// apart): the header of an empty store is docker's byte for byte.
func TestImagesTableWidths(t *testing.T) {
	out, err := strata(t, t.TempDir(), nil, "images")
	if err != nil {
		t.Fatal(err)
	}
	if want := "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"; out != want {
		t.Errorf("images on an empty store = %q, want docker's %q", out, want)
	}
}
