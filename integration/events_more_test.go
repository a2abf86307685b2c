package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEventsOfEveryContainerCommand: update, top, cp (both ways), export and commit log the
// container events docker's daemon logs for them (update, top, extract-to-dir, archive-path,
// export, and commit with its comment, imageID and imageRef, after the new name's image tag
// event), as import logs its name's tag: `events` showed none of them, so a script waiting
// for a commit's event, or auditing who changed a container's limits, saw nothing.
func TestEventsOfEveryContainerCommand(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	start := time.Now()
	mustStrata(t, root, "run", "-d", "--name", "evc", "alpine", "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "evc") })
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustStrata(t, root, "update", "--pids-limit", "100", "evc")
	mustStrata(t, root, "top", "evc")
	mustStrata(t, root, "cp", file, "evc:/tmp/")
	mustStrata(t, root, "cp", "evc:/tmp/f.txt", filepath.Join(dir, "back.txt"))
	tar := filepath.Join(dir, "evc.tar")
	mustStrata(t, root, "export", "-o", tar, "evc")
	id := strings.TrimSpace(mustStrata(t, root, "commit", "-m", "note", "evc", "evc/img:1").Stdout)
	t.Cleanup(func() { strata(t, root, "rmi", "-f", "evc/img:1", "evc/imp:1") })
	imp := strings.TrimSpace(mustStrata(t, root, "import", tar, "evc/imp:1").Stdout)

	since := start.Format(time.RFC3339Nano)
	got := mustStrata(t, root, "events", "--since", since, "--until", "0s", "-f", "container=evc", "--format", "{{.Action}}").Stdout
	if want := "create\nstart\nupdate\ntop\nextract-to-dir\narchive-path\nexport\ncommit\n"; got != want {
		t.Errorf("container events = %q, want %q", got, want)
	}
	got = mustStrata(t, root, "events", "--since", since, "--until", "0s", "-f", "event=commit",
		"--format", "{{.Actor.Attributes.comment}} {{.Actor.Attributes.imageID}} {{.Actor.Attributes.imageRef}} {{.Actor.Attributes.name}}").Stdout
	if want := "note " + id + " evc/img:1 evc\n"; got != want {
		t.Errorf("commit event = %q, want %q", got, want)
	}
	got = mustStrata(t, root, "events", "--since", since, "--until", "0s", "-f", "type=image", "--format", "{{.Action}} {{.ID}} {{.Actor.Attributes.name}}").Stdout
	if want := "tag " + id + " evc/img:1\ntag " + imp + " evc/imp:1\nimport " + imp + " " + imp + "\n"; got != want {
		t.Errorf("image events = %q, want %q", got, want)
	}
}
