package main

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestZeroCreatedImage: an image whose config says "created": "0001-01-01T00:00:00Z" (a build
// that zeroed its dates) shows that date in image inspect, as docker does (moby formats any
// created the config has), where strata printed an empty Created as for a config without
// one; images leaves CREATED blank, as docker/cli does for the zero time, and history leaves
// the step's CREATED blank (docker blanks a time before 2000) and prints the zero time with
// -H=false, where strata printed the epoch, docker's time for a step that gives none.
func TestZeroCreatedImage(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	storeBusyboxConfigFile(t, root, "docker.io/library/zero:1", func(cf *v1.ConfigFile) {
		cf.Created = v1.Time{}
		cf.History = []v1.History{{CreatedBy: "ADD rootfs /"}}
	})
	out, err := strata(t, root, nil, "image", "inspect", "--format", "{{.Created}}", "zero:1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "0001-01-01T00:00:00Z\n"; out != want {
		t.Errorf("image inspect --format {{.Created}} = %q, want %q", out, want)
	}
	out, err = strata(t, root, nil, "images", "--format", "[{{.CreatedSince}}]", "zero")
	if err != nil {
		t.Fatal(err)
	}
	if want := "[]\n"; out != want {
		t.Errorf("images --format [{{.CreatedSince}}] = %q, want %q", out, want)
	}
	out, err = strata(t, root, nil, "history", "--format", "[{{.CreatedSince}}]", "zero:1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "[]\n"; out != want {
		t.Errorf("history --format [{{.CreatedSince}}] = %q, want %q", out, want)
	}
	// -H=false prints the time itself: the zero one given, as docker's time.Unix of it does.
	out, err = strata(t, root, nil, "history", "-H=false", "--format", "{{.CreatedAt}}", "zero:1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (time.Time{}).Local().Format(time.RFC3339) + "\n"; out != want {
		t.Errorf("history -H=false {{.CreatedAt}} = %q, want %q", out, want)
	}
	// busybox's own date is still shown.
	out, err = strata(t, root, nil, "images", "--format", "{{.CreatedSince}}", "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, " ago\n") {
		t.Errorf("images busybox CREATED = %q, want \"… ago\"", out)
	}
}
