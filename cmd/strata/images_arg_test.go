package main

import (
	"strings"
	"testing"
)

// TestImagesEmptyArgument: `images ""` lists every image, as docker's, which adds no
// reference filter for an empty argument (a script's `images "$REPO"` with REPO unset): it
// was refused, 'invalid reference format: empty reference'.
func TestImagesEmptyArgument(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	all, err := strata(t, root, nil, "images")
	if err != nil || !strings.Contains(all, "busybox") {
		t.Fatalf("images = %q, %v", all, err)
	}
	out, err := strata(t, root, nil, "images", "")
	if err != nil || out != all {
		t.Errorf("images \"\" = %q, %v; want every image, as images lists them:\n%s", out, err, all)
	}
}

// TestImagesSubcommandHint: `images ls` (or rm, pull, ...: a subcommand of `image` typed after
// images) that lists nothing says on stderr what was likely meant, as docker's does: it
// printed an empty table, and the user was left to wonder where the images went. image ls ls,
// a name that is no subcommand and a listing that finds images say nothing.
func TestImagesSubcommandHint(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		hint string
	}{
		{[]string{"images", "ls"}, `No images found matching "ls": did you mean "strata image ls"?` + "\n"},
		{[]string{"images", "-q", "rm"}, `No images found matching "rm": did you mean "strata image rm"?` + "\n"},
		{[]string{"images", "list"}, `No images found matching "list": did you mean "strata image list"?` + "\n"},
		{[]string{"image", "ls", "ls"}, ""},
		{[]string{"images", "load"}, `No images found matching "load": did you mean "strata image load"?` + "\n"},
		{[]string{"images", "help"}, ""}, // cobra's, no image subcommand of its own
		{[]string{"images", "nosuch"}, ""},
		{[]string{"images", "busybox"}, ""},
	} {
		_, stderr, err := strataOutErr(t, root, tt.args...)
		if err != nil || stderr != tt.hint {
			t.Errorf("%q: stderr %q, %v; want %q", tt.args, stderr, err, tt.hint)
		}
	}
}

// TestImagesArgumentNoReference: `images ALPINE` (uppercase) or `images 'bad@@ref'` lists
// nothing and exits 0, as docker's: its CLI passes the argument on as a reference= filter
// unchecked and its daemon matches it as a pattern (reference.FamiliarMatch), which no image
// name matches. Both were refused as invalid references.
func TestImagesArgumentNoReference(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"BUSYBOX", "Busybox:1.38.0-musl", "bad@@ref", "busybox@sha256:zz", "-x-"} {
		out, stderr, err := strataOutErr(t, root, "images", "--format", "{{.Repository}}", "--", arg)
		if err != nil || out != "" || stderr != "" {
			t.Errorf("images %q = %q, stderr %q, %v; want nothing listed, exit 0", arg, out, stderr, err)
		}
	}
	// A pattern that does match still lists the image.
	if out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}", "busy*"); err != nil || out != "busybox\n" {
		t.Errorf("images busy* = %q, %v; want busybox", out, err)
	}
}
