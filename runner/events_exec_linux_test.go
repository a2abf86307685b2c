package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/events"
)

// TestExecEventsAction: an exec's exec_create and exec_start name its command as docker's
// daemon does (moby daemon/exec.go): "exec_create: " + the entrypoint + " " + its arguments
// joined by spaces, so a command without arguments ends in a space ("exec_start: true ").
// strata joined the whole argv, which left that space out.
func TestExecEventsAction(t *testing.T) {
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		what string
	}{
		{[]string{"true"}, "true "},
		{[]string{"sh", "-c", "exit 3"}, "sh -c exit 3"},
		{[]string{"ls", ""}, "ls "},
		{[]string{"echo", "", "x"}, "echo  x"},
	} {
		root := t.TempDir()
		id := strings.Repeat("c", 64)
		c := &Container{ID: id, Dir: filepath.Join(root, "containers", id), Config: Config{Name: "x", Image: "alpine"}}
		c.State = State{Status: StatusRunning, MonitorPid: os.Getpid(), MonitorStart: start}
		ExecEvents(c, tc.args)(0, nil)
		f, err := events.Open(filepath.Join(root, events.File))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		err = events.NewTail(f).Poll(func(m events.Message) bool { got = append(got, m.Action); return true })
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"exec_create: " + tc.what, "exec_start: " + tc.what, "exec_die"}
		if !slices.Equal(got, want) {
			t.Errorf("ExecEvents(%q) logged %q, want %q", tc.args, got, want)
		}
	}
}
