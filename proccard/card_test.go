package proccard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// startIsolated starts `sleep` in fresh mnt, uts, ipc, net and pid namespaces and kills it
// (by its pid) when the test ends.
func startIsolated(t *testing.T) *exec.Cmd {
	t.Helper()
	testutil.Requires(t, testutil.Root)
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET | unix.CLONE_NEWPID,
		Pdeathsig:  unix.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// Start returns once execve has closed the close-on-exec fds, which is before the
	// kernel has set up the new program's arguments: until then its cmdline reads empty.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid)); err == nil && len(b) > 0 {
			break
		}
	}
	return cmd
}

func TestReadNamespacesMatchReadlinkAndLsns(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Command("lsns"))
	cmd := startIsolated(t)
	pid := cmd.Process.Pid
	card, err := Read(pid, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if card.Pid != pid || len(card.NSpid) != 2 || card.NSpid[0] != pid || card.NSpid[1] != 1 {
		t.Errorf("Read(%d): Pid %d NSpid %v, want %d and [%d 1]", pid, card.Pid, card.NSpid, pid, pid)
	}
	if strings.Join(card.Command, " ") != "sleep 1000" {
		t.Errorf("Read(%d).Command = %q, want sleep 1000", pid, card.Command)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "CapEff:\t"+card.Security.CapEff+"\n") || card.Security.CapEff == "" {
		t.Errorf("Read(%d).Security.CapEff = %q, not the one in its status", pid, card.Security.CapEff)
	}
	if len(card.Parents) == 0 || card.Parents[0].Pid != os.Getpid() {
		t.Errorf("Read(%d).Parents = %+v, want this test first", pid, card.Parents)
	}

	// lsns reads every process's namespaces, whatever -p says, and fails when one of them
	// exits under it: on a machine running other tests it is asked again.
	var out []byte
	for try := 0; ; try++ {
		out, err = exec.Command("lsns", "-J", "-o", "NS,TYPE", "-p", strconv.Itoa(pid)).Output()
		if err == nil {
			break
		}
		if try == 29 {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("lsns: %v: %s", err, stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var lsns struct {
		Namespaces []struct {
			NS   uint64 `json:"ns"`
			Type string `json:"type"`
		} `json:"namespaces"`
	}
	if err := json.Unmarshal(out, &lsns); err != nil {
		t.Fatalf("parsing lsns -J: %v\n%s", err, out)
	}
	fromLsns := map[string]uint64{}
	for _, n := range lsns.Namespaces {
		fromLsns[n.Type] = n.NS
	}
	isolated := map[string]bool{"mnt": true, "uts": true, "ipc": true, "net": true, "pid": true}
	if len(card.Namespaces) != len(fromLsns) {
		t.Errorf("card has %d namespaces, lsns %d", len(card.Namespaces), len(fromLsns))
	}
	for _, ns := range card.Namespaces {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns.Type))
		if err != nil {
			t.Fatal(err)
		}
		if ns.Link != link {
			t.Errorf("%s: Link %q, readlink %q", ns.Type, ns.Link, link)
		}
		if ns.Inode != fromLsns[ns.Type] {
			t.Errorf("%s: Inode %d, lsns says %d", ns.Type, ns.Inode, fromLsns[ns.Type])
		}
		if ns.Shared == isolated[ns.Type] {
			t.Errorf("%s: Shared %v, want %v", ns.Type, ns.Shared, !isolated[ns.Type])
		}
	}

	procs, err := Processes(pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 1 || procs[0].Pid != pid || len(procs[0].NSpid) != 2 || procs[0].NSpid[1] != 1 {
		t.Errorf("Processes(%d) = %+v, want only the sleep, pid 1 inside", pid, procs)
	}

	// The renderers name the same inodes as the card.
	var text, explain bytes.Buffer
	if err := Text(&text, card); err != nil {
		t.Fatal(err)
	}
	if err := Explain(&explain, "test", card); err != nil {
		t.Fatal(err)
	}
	for _, ns := range card.Namespaces {
		if !ns.Shared && !strings.Contains(explain.String(), fmt.Sprintf("%s %d", ns.Type, ns.Inode)) {
			t.Errorf("Explain does not name %s %d:\n%s", ns.Type, ns.Inode, explain.String())
		}
		if !strings.Contains(text.String(), strconv.FormatUint(ns.Inode, 10)) {
			t.Errorf("Text does not name inode %d:\n%s", ns.Inode, text.String())
		}
	}
	for _, want := range []string{fmt.Sprintf("lsns -p %d", pid), fmt.Sprintf("nsenter --net --target %d ip addr", pid)} {
		if !strings.Contains(explain.String(), want) {
			t.Errorf("Explain lacks %q:\n%s", want, explain.String())
		}
	}
}

func TestReadGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	// A reaped child's pid is free; the kernel does not reuse it at once (pids cycle).
	if _, err := Read(cmd.Process.Pid, Options{}); err == nil {
		t.Errorf("Read(exited pid %d) = nil error, want ErrNoProcess", cmd.Process.Pid)
	}
}

func TestRootFS(t *testing.T) {
	dir := t.TempDir()
	hexA := strings.Repeat("a", 64)
	hexB := strings.Repeat("b", 64)
	write := func(p string, n int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	layerA := filepath.Join(dir, "snapshots", hexA)
	layerB := filepath.Join(dir, "snap:shots", hexB) // a ':' the snapshotter escapes
	upper := filepath.Join(dir, "upper")
	write(filepath.Join(layerA, "bin/a"), 1000)
	write(filepath.Join(layerB, "etc/b"), 300)
	write(filepath.Join(upper, "tmp/new"), 42)
	if err := os.Link(filepath.Join(upper, "tmp/new"), filepath.Join(upper, "tmp/link")); err != nil {
		t.Fatal(err)
	}
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace
	root := []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
		"lowerdir=" + esc(layerB) + ":" + esc(layerA), "nodev", "upperdir=" + upper, "workdir=" + filepath.Join(dir, "work"),
	}}}
	blobs := map[string]Blob{"sha256:" + hexA: {Digest: "sha256:" + strings.Repeat("c", 64), Size: 512}}
	r := readRootFS(root, blobs)
	want := &RootFS{
		Type: "overlay",
		Lowers: []Layer{
			{Dir: layerB, DiffID: "sha256:" + hexB, DiskSize: 300},
			{Dir: layerA, DiffID: "sha256:" + hexA, Digest: "sha256:" + strings.Repeat("c", 64), Size: 512, DiskSize: 1000},
		},
		Upper: upper, Work: filepath.Join(dir, "work"), UpperSize: 42,
	}
	got, _ := json.Marshal(r)
	exp, _ := json.Marshal(want)
	if !bytes.Equal(got, exp) {
		t.Errorf("readRootFS =\n%s\nwant\n%s", got, exp)
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1KiB"}, {1536, "1.5KiB"}, {5 << 20, "5MiB"}, {3 << 30, "3GiB"},
	}
	for _, tt := range tests {
		if got := Bytes(tt.in); got != tt.want {
			t.Errorf("Bytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTimeOffsets(t *testing.T) {
	tests := []struct {
		in   string
		want TimeOffsets
	}{
		{"monotonic 86400 0\nboottime -2 500000000\n", TimeOffsets{Monotonic: 86400, Boottime: -1.5}},
		{"1 10 0\n7 20 0\n", TimeOffsets{Monotonic: 10, Boottime: 20}},
		{"monotonic x 0\ngarbage\n", TimeOffsets{}},
	}
	for _, tt := range tests {
		if got := parseTimeOffsets(tt.in); *got != tt.want {
			t.Errorf("parseTimeOffsets(%q) = %+v, want %+v", tt.in, *got, tt.want)
		}
	}
}

// TestReadTimeNamespace reads the card of a process that util-linux's unshare put in a time
// namespace of its own with shifted clocks.
func TestReadTimeNamespace(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Command("unshare"), testutil.Path("/proc/self/timens_offsets"))
	cmd := exec.Command("unshare", "--time", "--monotonic", "100", "--boottime", "200", "sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// unshare execs sleep in place; wait until it has (its namespace then differs).
	var card *Card
	for i := 0; i < 200; i++ {
		var err error
		if card, err = Read(cmd.Process.Pid, Options{}); err != nil {
			t.Fatal(err)
		}
		if card.TimeOffsets != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if card.TimeOffsets == nil || *card.TimeOffsets != (TimeOffsets{Monotonic: 100, Boottime: 200}) {
		t.Fatalf("Read(unshare --time).TimeOffsets = %+v, want monotonic 100, boottime 200", card.TimeOffsets)
	}
	var text bytes.Buffer
	if err := Text(&text, card); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "monotonic +100s, boottime +200s") {
		t.Errorf("Text does not show the offsets:\n%s", text.String())
	}
}

func TestSecurityFromStatus(t *testing.T) {
	tests := []struct {
		fields map[string]string
		want   string
	}{
		{map[string]string{"CapEff": "00000000a80425fb", "NoNewPrivs": "1", "Seccomp": "2", "Seccomp_filters": "1"},
			"CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP|true|filter|1"},
		{map[string]string{"CapEff": "0000000000000000", "NoNewPrivs": "0", "Seccomp": "0"}, "|false|disabled|0"},
		{map[string]string{"CapEff": "8000000000000001"}, "CHOWN 63|false|disabled|0"},
		{map[string]string{"CapEff": "zz", "Seccomp": "1"}, "|false|strict|0"},
	}
	for _, tt := range tests {
		s := securityFromStatus(tt.fields)
		got := fmt.Sprintf("%s|%v|%s|%d", strings.Join(s.Capabilities, " "), s.NoNewPrivs, s.Seccomp, s.SeccompFilters)
		if got != tt.want {
			t.Errorf("securityFromStatus(%v) = %s, want %s", tt.fields, got, tt.want)
		}
	}
}
