package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

func TestRunUser(t *testing.T) {
	tests := []struct {
		user string
		want string
	}{
		{"", "0 0 0 1 2 3 4 6 10 11 20 26 27"},
		{"nobody", "65534 65534 65534"},
		{"1234:5678", "1234 5678 5678"},
		{"daemon", "2 2 2 1 4"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", "echo $(id -u) $(id -g) $(id -G)")
			spec.User = tt.user
			if got := mustRun(t, spec); got != tt.want {
				t.Errorf("user %q: id = %q, want %q", tt.user, got, tt.want)
			}
		})
	}
}

func TestRunUnknownUser(t *testing.T) {
	spec := testSpec(t, "true")
	spec.User = "nosuchuser"
	code, _, _, err := runOut(t, spec)
	if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), "unable to find user nosuchuser") {
		t.Fatalf("Run as unknown user = %d, %v, want 125 and unable to find user", code, err)
	}
}

func TestRunReadOnlyRoot(t *testing.T) {
	spec := testSpec(t, "sh", "-c", "touch /x 2>/dev/null && echo root-rw; touch /dev/shm/y && echo shm-rw")
	spec.ReadOnly = true
	if got := mustRun(t, spec); got != "shm-rw" {
		t.Errorf("--read-only: got %q, want the root read-only and /dev/shm writable", got)
	}
}

func TestRunBindAndTmpfs(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "f"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro, err := ParseVolume(host + ":/data:ro")
	if err != nil {
		t.Fatal(err)
	}
	rw, err := ParseMount("type=bind,source=" + host + ",target=/rw")
	if err != nil {
		t.Fatal(err)
	}
	created := filepath.Join(t.TempDir(), "made", "by", "v")
	vol, err := ParseVolume(created + ":/vol")
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := ParseTmpfs("/scratch:size=1m")
	if err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, "sh", "-c", `cat /data/f; echo;
touch /data/g 2>/dev/null && echo data-rw;
echo x > /rw/written && echo rw-ok;
echo y > /vol/v && echo vol-ok;
grep ' /scratch ' /proc/mounts | cut -d' ' -f3`)
	spec.Mounts = []mount.Mount{ro, rw, vol, tmp}
	want := "from host\nrw-ok\nvol-ok\ntmpfs"
	if got := mustRun(t, spec); got != want {
		t.Errorf("binds and tmpfs: got %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(host, "written")); err != nil {
		t.Errorf("write through the rw bind did not reach the host: %v", err)
	}
	if _, err := os.Stat(filepath.Join(created, "v")); err != nil {
		t.Errorf("-v did not create its missing host dir: %v", err)
	}
}

func TestRunConfinement(t *testing.T) {
	// Each row runs as root in a default container and must be refused.
	tests := []struct {
		name string
		cmd  string
	}{
		{"mount", "mount -t tmpfs tmpfs /mnt"},
		{"mknod", "mknod /tmp/sda b 8 0"},
		{"kcore masked", "test -s /proc/kcore || head -c1 /proc/kcore | grep -q ."},
		{"proc/sys read-only", "echo 1 > /proc/sys/kernel/ns_last_pid"},
		{"sysrq read-only", "echo h > /proc/sysrq-trigger"},
		{"sys read-only", "touch /sys/kernel/x"},
		{"set hostname", "hostname other"},
		{"firmware masked", "ls /sys/firmware | grep -q ."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", tt.cmd+" 2>/dev/null && echo ALLOWED || echo refused")
			if got := mustRun(t, spec); got != "refused" {
				t.Errorf("%s inside the container: %s", tt.cmd, got)
			}
		})
	}
}

func TestRunCapabilities(t *testing.T) {
	tests := []struct {
		name       string
		add, drop  []string
		privileged bool
		user       string
		wantBnd    string
	}{
		{"default", nil, nil, false, "", "00000000a00425fb"},
		{"drop all add chown", []string{"CHOWN"}, []string{"ALL"}, false, "", "0000000000000001"},
		{"add sys_admin", []string{"sys_admin"}, nil, false, "", "00000000a02425fb"},
		{"nobody has none effective", nil, nil, false, "nobody", "00000000a00425fb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", "grep -E '^Cap(Bnd|Eff|Inh)' /proc/self/status | tr -s '\\t' ' '")
			spec.CapAdd, spec.CapDrop, spec.Privileged, spec.User = tt.add, tt.drop, tt.privileged, tt.user
			out := mustRun(t, spec)
			wantEff := tt.wantBnd
			if tt.user != "" {
				wantEff = "0000000000000000"
			}
			want := "CapInh: 0000000000000000\nCapEff: " + wantEff + "\nCapBnd: " + tt.wantBnd
			if out != want {
				t.Errorf("caps = %q, want %q", out, want)
			}
		})
	}
}

func TestRunNoNewPrivs(t *testing.T) {
	spec := testSpec(t, "sh", "-c", "grep NoNewPrivs /proc/self/status | tr -s '\\t' ' '")
	if got := mustRun(t, spec); got != "NoNewPrivs: 1" {
		t.Errorf("got %q, want NoNewPrivs: 1", got)
	}
}

func TestRunOnlyStdioFDs(t *testing.T) {
	// CVE-2024-21626: no fd of the host (a cgroup dir, the init socket, the sealed binary)
	// may survive into the container. ls itself opens the directory it lists (fd 3).
	spec := testSpec(t, "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '")
	if got := mustRun(t, spec); got != "0 1 2 3" {
		t.Errorf("fds inside = %q, want only 0 1 2 (and 3, ls's own)", got)
	}
}

func TestRunExeNotWritable(t *testing.T) {
	testutil.Requires(t, staticSelf)
	// CVE-2019-5736: a container whose command is /proc/self/exe runs the binary strata's
	// init was started from (here: the test binary, which turns into exeProbe). That binary
	// must be a copy sealed against writes, and the host's file must stay as it was.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, "/proc/self/exe")
	spec.Env = append(spec.Env, exeProbeEnv+"=1")
	got := mustRun(t, spec)
	t.Logf("probe: %s", got)
	if !strings.HasPrefix(got, "refused:") || !strings.Contains(got, " protected:") {
		t.Errorf("the init's binary seen from inside: %q, want refused and protected", got)
	}
	after, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(before) != sha256.Sum256(after) {
		t.Errorf("the host's test binary changed")
	}
}

func TestRunSignalForwarding(t *testing.T) {
	spec := testSpec(t, "sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.05; done")
	out, done := runUntilReady(t, spec)
	// Run has a signal.Notify for SIGTERM from before the container started, so this goes to
	// the container, not to the test binary.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.code != 7 {
		t.Fatalf("Run after SIGTERM = %d, %v, want 7", r.code, r.err)
	}
	if !strings.Contains(out.String(), "got-term") {
		t.Errorf("container output %q lacks got-term", out.String())
	}
}

// runResult is how a Run in the background ended.
type runResult struct {
	code int
	err  error
}

// runUntilReady runs spec in the background and returns once the container printed "ready":
// its output so far and where Run's result arrives.
func runUntilReady(t *testing.T, spec Spec) (*lineWatcher, <-chan runResult) {
	t.Helper()
	ready := make(chan struct{})
	out := &lineWatcher{want: "ready", seen: ready}
	done := make(chan runResult, 1)
	go func() {
		code, err := Run(context.Background(), spec, Stdio{Stdout: out})
		done <- runResult{code, err}
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("container ended before it was ready: %d, %v", r.code, r.err)
	case <-time.After(time.Minute):
		t.Fatal("container never printed ready") // a guard against hanging, not a timing check
	}
	return out, done
}

// lineWatcher is a Writer that closes seen once its output contains want. It does not embed
// bytes.Buffer: io.Copy would then call Buffer.ReadFrom and bypass Write.
type lineWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	done bool
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.want) {
		w.done = true
		close(w.seen)
	}
	return n, err
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestProtectedExe(t *testing.T) {
	// Both protections, checked on the host side: neither can be opened for writing, and each
	// says why (the memfd by its seals, the bind by its read-only mount).
	testutil.Requires(t, testutil.Root)
	ro, err := readOnlyExe("/proc/self/exe")
	if err != nil {
		t.Fatalf("readOnlyExe = %v", err)
	}
	defer unix.Close(ro)
	sealed, err := makeSealedExe()
	if err != nil {
		t.Fatalf("makeSealedExe = %v", err)
	}
	defer unix.Close(sealed)
	for _, fd := range []int{ro, sealed} {
		p := fmt.Sprintf("/proc/self/fd/%d", fd)
		// A sealed memfd may be opened for writing; every write fails with EPERM.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			_, werr := f.Write([]byte("x"))
			f.Close()
			if werr == nil {
				t.Errorf("wrote to %s", p)
			}
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(fmt.Sprintf("/proc/self/fd/%d", ro), &st); err != nil || st.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("read-only bind: statfs flags %#x, %v, want ST_RDONLY", st.Flags, err)
	}
	if seals, err := unix.FcntlInt(uintptr(sealed), unix.F_GET_SEALS, 0); err != nil || seals&unix.F_SEAL_WRITE == 0 {
		t.Errorf("memfd seals = %#x, %v, want F_SEAL_WRITE", seals, err)
	}
}

func TestRunInitForwardsSignals(t *testing.T) {
	testutil.Requires(t, staticSelf)
	// With --init, SIGTERM to strata goes to the reaper and from it to the command, which has
	// no handler and so dies of it: 128+15. Without the reaper, sleep as PID 1 would ignore it.
	spec := testSpec(t, "sh", "-c", "echo ready; exec sleep 1000")
	spec.Init = true
	_, done := runUntilReady(t, spec)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.code != 128+15 {
		t.Fatalf("Run(--init) after SIGTERM = %d, %v, want 143", r.code, r.err)
	}
}

func TestRunPrivileged(t *testing.T) {
	var extra string
	for _, d := range hostDeviceNodes() {
		if !slices.Contains(hostDevices, d) && !strings.Contains(d, "/") {
			extra = d
			break
		}
	}
	if extra == "" {
		t.Skip("skipping: the host has no device beyond the default ones")
	}
	spec := testSpec(t, "sh", "-c", "mount -t tmpfs tmpfs /mnt && echo mounted; test -e /dev/"+extra+" && echo has-device; grep CapEff /proc/self/status | tr -s '\\t' ' '")
	spec.Privileged = true
	// Every capability strata itself holds: the host's root may lack some (CAP_SYS_RESOURCE
	// here), and a container cannot get more than its runtime has.
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var own string
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "CapEff:") {
			own = strings.Join(strings.Fields(l), " ")
		}
	}
	want := "mounted\nhas-device\n" + own
	if got := mustRun(t, spec); got != want {
		t.Errorf("privileged: got %q, want %q (device %s)", got, want, extra)
	}
}

func TestRunHostilePasswd(t *testing.T) {
	// An image whose /etc/passwd is a FIFO or a link to an endless device must not hang the
	// init: the file counts as absent, so names fail and numbers work.
	tests := []struct {
		name  string
		setup func(etc string) error
	}{
		{"fifo", func(etc string) error { return unix.Mkfifo(filepath.Join(etc, "passwd"), 0o644) }},
		{"endless device", func(etc string) error { return os.Symlink("/dev/urandom", filepath.Join(etc, "passwd")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, user := range []string{"nobody", "1234"} {
				// Not id(1): it would read the FIFO itself, which is the image's problem.
				spec := testSpec(t, "grep", "^Uid:", "/proc/self/status")
				etc := filepath.Join(spec.Dir, "upper", "etc")
				if err := os.MkdirAll(etc, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := tt.setup(etc); err != nil {
					t.Fatal(err)
				}
				spec.User = user
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				var out bytes.Buffer
				code, err := Run(ctx, spec, Stdio{Stdout: &out})
				hung := ctx.Err() != nil
				cancel()
				if hung {
					t.Fatalf("Run(-u %s) hung on a hostile /etc/passwd", user)
				}
				if user == "nobody" && (code != ExitOwnError || !errors.Is(err, ErrUnknownUser)) {
					t.Errorf("Run(-u nobody) = %d, %v, want 125 and ErrUnknownUser", code, err)
				}
				if user == "1234" && (err != nil || !strings.HasPrefix(strings.Join(strings.Fields(out.String()), " "), "Uid: 1234 1234")) {
					t.Errorf("Run(-u 1234) = %d, %v, %q, want uid 1234", code, err, out.String())
				}
			}
		})
	}
}

func TestRunSymlinkedProc(t *testing.T) {
	// An image whose /proc is a symlink elsewhere would get procfs outside its masks.
	spec := testSpec(t, "true")
	upper := filepath.Join(spec.Dir, "upper")
	if err := os.MkdirAll(filepath.Join(upper, "elsewhere"), 0o755); err != nil {
		t.Fatal(err)
	}
	// An overlay whiteout is not needed: a symlink in the upper replaces the lower's dir.
	if err := os.Symlink("/elsewhere", filepath.Join(upper, "proc")); err != nil {
		t.Fatal(err)
	}
	code, _, _, err := runOut(t, spec)
	if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), "/proc in the image is a symlink") {
		t.Fatalf("Run with /proc a symlink = %d, %v, want 125 and a symlink error", code, err)
	}
}

// TestRunSymlinkedEtcStaysInside: an image whose /etc leads out of its root, absolutely or
// with "..", gets the hostname, hosts and resolv.conf binds inside its root, where the link
// leads within it; the host directory it names is left as it was.
func TestRunSymlinkedEtcStaysInside(t *testing.T) {
	for _, link := range []string{"relative", "absolute"} {
		t.Run(link, func(t *testing.T) {
			hostDir := t.TempDir()
			spec := testSpec(t, "cat", "/etc/hostname")
			spec.Hostname = "inside"
			target := strings.Repeat("../", 20) + strings.TrimPrefix(hostDir, "/")
			if link == "absolute" {
				target = "/../.." + hostDir
			}
			if err := os.Symlink(target, filepath.Join(spec.Dir, "upper", "etc")); err != nil {
				t.Fatal(err)
			}
			if out := mustRun(t, spec); out != "inside" {
				t.Errorf("/etc/hostname through the link = %q, want inside", out)
			}
			if entries, err := os.ReadDir(hostDir); err != nil || len(entries) != 0 {
				t.Errorf("host dir %s after the run: %v, %v; want it empty", hostDir, entries, err)
			}
		})
	}
}
