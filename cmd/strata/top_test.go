package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-run/strata/proccard"
)

// TestTopDefunctAndNested: a zombie shows as ps and docker top show it, "[comm] <defunct>",
// not as a kernel thread would; a process of a nested pid namespace shows its PID in the
// container's namespace, not its own namespace's 1.
func TestTopDefunctAndNested(t *testing.T) {
	var out bytes.Buffer
	procs := []proccard.Process{
		{Pid: 10, NSpid: []int{10, 1}, ContainerPid: 1, User: "root", State: "S", Command: []string{"sleep", "1000"}},
		{Pid: 11, NSpid: []int{11, 2}, ContainerPid: 2, User: "root", State: "Z", Comm: "true"},
		{Pid: 12, NSpid: []int{12, 3, 1}, ContainerPid: 3, User: "root", State: "S", Command: []string{"sleep", "5"}},
	}
	if err := printTop(&out, procs); err != nil {
		t.Fatal(err)
	}
	want := "PID   CONTAINER PID   USER   COMMAND\n" +
		"10    1               root   sleep 1000\n" +
		"11    2               root   [true] <defunct>\n" +
		"12    3               root   sleep 5\n"
	if out.String() != want {
		t.Errorf("printTop = %q, want %q", out.String(), want)
	}
}

// TestTopPsOptions: top with ps options keeps, as docker top does, ps's header and the
// container's lines by their PID column (and the thread lines after them), the last column
// whole; it took exactly one argument, so `strata top c aux` was refused.
func TestTopPsOptions(t *testing.T) {
	procs := []proccard.Process{{Pid: 10}, {Pid: 12}}
	ps := "UID        PID  PPID  C STIME TTY          TIME CMD\n" +
		"root         1     0  0 18:17 ?        00:01:14 /sbin/init splash\n" +
		"root        10     9  0 18:17 ?        00:00:00 sleep 1000\n" +
		"root        11     1  0 18:17 ?        00:00:00 host thing\n" +
		"nobody      12    10  0 18:17 ?        00:00:00 sh -c x\x1b[2J\n"
	var out bytes.Buffer
	if err := printPsTop(&out, []byte(ps), procs); err != nil {
		t.Fatal(err)
	}
	want := "UID      PID   PPID   C   STIME   TTY   TIME       CMD\n" +
		"root     10    9      0   18:17   ?     00:00:00   sleep 1000\n" +
		`nobody   12    10     0   18:17   ?     00:00:00   sh -c x\x1b[2J` + "\n"
	if out.String() != want {
		t.Errorf("printPsTop = %q, want %q", out.String(), want)
	}
	threads := "PID   LWP CMD\n10 - sleep\n- 10 -\n- 13 -\n11 - other\n- 11 -\n"
	out.Reset()
	if err := printPsTop(&out, []byte(threads), procs); err != nil {
		t.Fatal(err)
	}
	if want := "PID   LWP   CMD\n10    -     sleep\n-     10    -\n-     13    -\n"; out.String() != want {
		t.Errorf("printPsTop(ps -m) = %q, want %q", out.String(), want)
	}
	if err := printPsTop(&out, []byte("COMMAND\nsleep\n"), procs); err == nil {
		t.Error("printPsTop of an output without PID = nil error")
	}

	root := t.TempDir()
	_, err := strata(t, root, nil, "top", "nosuch", "aux")
	if err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Errorf("top nosuch aux = %v, want no such container (the ps options taken)", err)
	}
}

// TestTopPsRenamedPID: ps options that title another column "PID" are refused before ps runs,
// as docker's daemon refuses them (validatePSArgs): the lines are kept by the PID column, so
// `top c -e -o rss=PID,args` listed every host process whose RSS was one of the container's
// PIDs. Renaming pid itself stays allowed; an error met on a later line prints nothing.
func TestTopPsRenamedPID(t *testing.T) {
	for _, args := range [][]string{
		{"-e", "-o", "rss=PID,args"},
		{"-o", "user=PID,pid"},
		{"-o", "pid,args=PID"},
		{"-ouid=PID"},
		{"-o", "pid=x PID", "-o", "rss"},
		{"--format=ppid=PIDS,pid"},
		{"axo", "sess= PID,comm"},
	} {
		err := checkPsRenames(args)
		if err == nil || !strings.Contains(err.Error(), "is not allowed") {
			t.Errorf("checkPsRenames(%q) = %v, want it refused", args, err)
		}
	}
	for _, args := range [][]string{
		{"aux"}, {"-ef"}, {"-o", "pid=PID,args"}, {"-opid=PID", "-o", "comm=Command"}, {"-eo", "pid,comm"}, {"-o", "pid=", "-o", "rss=RSS"},
	} {
		if err := checkPsRenames(args); err != nil {
			t.Errorf("checkPsRenames(%q) = %v, want it taken", args, err)
		}
	}
	var out bytes.Buffer
	if _, err := exec.LookPath("ps"); err == nil {
		// Through the host's ps: refused before it runs, nothing printed.
		if err := psTop(&out, []proccard.Process{{Pid: 1}}, []string{"-e", "-o", "rss=PID,args"}); err == nil || out.Len() != 0 {
			t.Errorf("psTop -e -o rss=PID,args = %v, printed %q; want it refused", err, out.String())
		}
	}
	ps := "PID\n10\nsystemd\n"
	if err := printPsTop(&out, []byte(ps), []proccard.Process{{Pid: 10}}); err == nil || out.Len() != 0 {
		t.Errorf("printPsTop of a bad line = %v, printed %q; want an error and nothing printed", err, out.String())
	}
}

// TestTopDefaultPsEf: top without ps options prints what docker top prints, the host's
// `ps -ef` (UID PID PPID C STIME TTY TIME CMD) for the container's processes: docker's daemon
// runs ps with "-ef" when given no options (daemon/top_unix.go). strata printed its own
// columns (PID, CONTAINER PID, USER, COMMAND), which a script reading docker's did not find.
func TestTopDefaultPsEf(t *testing.T) {
	if _, err := exec.LookPath("ps"); err != nil {
		t.Skipf("no ps on this host: %v", err)
	}
	var out bytes.Buffer
	if err := containerTop(&out, []proccard.Process{{Pid: os.Getpid()}}, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "UID PID PPID C STIME TTY TIME CMD" ||
		len(strings.Fields(lines[1])) < 8 || strings.Fields(lines[1])[1] != strconv.Itoa(os.Getpid()) {
		t.Errorf("top = %q; want ps -ef's header and this process's line", out.String())
	}
}
