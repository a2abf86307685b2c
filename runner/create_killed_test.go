package runner

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// createKilledEnv makes the test binary the strata whose create is killed: it creates a --rm
// container named k in the store dir $createKilledEnv and exits.
const createKilledEnv = "STRATA_TEST_CREATE_KILLED"

func init() {
	dir := os.Getenv(createKilledEnv)
	if dir == "" {
		return
	}
	s, err := OpenStore(dir)
	if err == nil {
		_, err = s.Create(Config{Name: "kk", Image: "alpine", AutoRemove: true})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestCreateKilledReserving SIGKILLs a create between the making of its container's dir and
// the mark that says a create is at work in it (stopped there by testStop): no container may
// be listed, the name must be free, and the next sweep must leave nothing of it. The dir was
// made in place, and the empty dir the kill left was listed as a Dead container that held the
// name for ever (no sweep takes a dir without a mark for an abandoned create), so a run --rm
// --name k killed there could not be run again.
func TestCreateKilledReserving(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), createKilledEnv+"="+s.Dir(), TestStopEnv+"="+stopReserving)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		if err != nil {
			break
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "T" {
			stopped = true
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if !stopped {
		t.Fatalf("the create never reached its stop point: %s", stderr.String())
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		t.Errorf("after the create killed, List() has container %s %q (broken: %v)", shortID(c.ID), c.Config.Name, c.Broken)
	}
	if _, err := s.Create(Config{Name: "kk", Image: "alpine"}); err != nil {
		t.Fatalf("creating a container named k again: %v", err)
	}
	_ = s.SweepLeftovers()
	ents, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != ".lock" && e.Name() != namesDir && !(len(e.Name()) == 64 && isHexID(e.Name())) {
			t.Errorf("left in the store after a sweep: %s", e.Name())
		}
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Errorf("containers after the second create: %d, want 1", len(list))
	}
}
