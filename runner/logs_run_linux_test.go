package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A foreground container's output goes to its user and to its log.json, line by line, as a
// detached one's does (docker's json-file logs attached containers too); with -t as one
// stream, stdout. The init PrepareInit started before the container is the one that runs it.
func TestRunContainerLogs(t *testing.T) {
	for _, tty := range []bool{false, true} {
		t.Run(map[bool]string{false: "pipes", true: "tty"}[tty], func(t *testing.T) {
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c := testContainer(t, s, "", "sh", "-c", "printf o; sleep .2; echo ut; printf err >&2")
			c.Config.Spec.Terminal = tty
			if err := c.SaveConfig(); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			stdio := Stdio{Stdout: &out, Stderr: &errOut}
			e := PrepareCgroup(c.ID, c.Config.Spec.Resources)
			t.Cleanup(func() { _ = e.Release() })
			e.PrepareInit(InitShape{Terminal: tty}, stdio)
			p := earlyInitOf(t, c.ID)
			if code, err := RunContainer(context.Background(), c, stdio); err != nil || code != 0 {
				t.Fatalf("RunContainer = %d, %v", code, err)
			}
			if p.cmd.ProcessState == nil {
				t.Error("the run did not take its early init")
			}
			want := []string{"stdout:out\n", "stderr:err"}
			wantOut, wantErr := "out\n", "err"
			if tty {
				want, wantOut, wantErr = []string{"stdout:out\r\n", "stdout:err"}, "out\r\nerr", ""
			}
			if out.String() != wantOut || errOut.String() != wantErr {
				t.Errorf("the user got %q, %q; want %q, %q", out.String(), errOut.String(), wantOut, wantErr)
			}
			if got := logOf(t, c); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("log entries = %q, want %q", got, want)
			}
			var lout, lerr bytes.Buffer
			if err := Logs(context.Background(), c, LogOptions{}, &lout, &lerr); err != nil {
				t.Fatal(err)
			}
			if lout.String() != wantOut || lerr.String() != wantErr {
				t.Errorf("Logs printed %q, %q; want %q, %q", lout.String(), lerr.String(), wantOut, wantErr)
			}
		})
	}
}

// A --rm foreground container keeps no log: nobody could read it after its removal, and its
// run must not pay for it. The hook sees the dir while the container runs.
func TestRunContainerRemovedKeepsNoLog(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sh", "-c", "echo hi; sleep .3")
	c.Config.AutoRemove = true
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	logged := make(chan bool, 1)
	go func() {
		time.Sleep(150 * time.Millisecond)
		_, err := os.Lstat(filepath.Join(c.Dir, logFile))
		logged <- err == nil
	}()
	var out bytes.Buffer
	if code, err := RunContainer(context.Background(), c, Stdio{Stdout: &out}); err != nil || code != 0 {
		t.Fatalf("RunContainer(--rm) = %d, %v", code, err)
	}
	if out.String() != "hi\n" {
		t.Errorf("the user got %q, want hi", out.String())
	}
	if <-logged {
		t.Error("a --rm container has a log.json while it runs")
	}
}
