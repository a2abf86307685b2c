package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// TestMain lets the test binary be its own init, monitor and reaper, as strata's main does
// (runc libcontainer/integration/init_test.go).
func TestMain(m *testing.M) {
	MaybeInit()
	if os.Getenv(exeProbeEnv) == "1" {
		exeProbe()
	}
	code := m.Run()
	if alpineDir != "" {
		os.RemoveAll(filepath.Dir(alpineDir))
	}
	os.Exit(code)
}

// alpineTarball is the upstream alpine minirootfs, copied into the repo's testdata.
const alpineTarball = "../testdata/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz"

var (
	alpineOnce sync.Once
	alpineDir  string
	alpineErr  error
)

// alpineRoot extracts the alpine minirootfs once per test binary and returns the directory.
func alpineRoot(t testing.TB) string {
	t.Helper()
	testutil.Requires(t, testutil.Root, testutil.Overlay, testutil.Path(alpineTarball), testutil.Command("tar"))
	alpineOnce.Do(func() {
		parent, err := os.MkdirTemp("", "strata-runner-alpine-")
		if err != nil {
			alpineErr = err
			return
		}
		dir := filepath.Join(parent, "rootfs")
		if err := os.Mkdir(dir, 0o755); err != nil {
			alpineErr = err
			return
		}
		alpineDir = dir
		out, err := exec.Command("tar", "-xzf", alpineTarball, "-C", dir, "--numeric-owner").CombinedOutput()
		if err != nil {
			alpineErr = fmt.Errorf("extracting alpine: %v: %s", err, out)
		}
	})
	if alpineErr != nil {
		t.Fatal(alpineErr)
	}
	return alpineDir
}

// randomID returns a 64-hex container ID.
func randomID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// testSpec is a spec for an alpine container over an overlay in a temp dir.
func testSpec(t testing.TB, args ...string) Spec {
	t.Helper()
	lower := alpineRoot(t)
	dir := t.TempDir()
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Spec{
		ID:  randomID(t),
		Dir: dir,
		Root: []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
			"lowerdir=" + lower, "upperdir=" + filepath.Join(dir, "upper"), "workdir=" + filepath.Join(dir, "work"),
		}}},
		Args: args,
		Env:  []string{"PATH=" + DefaultPath},
	}
}

// runOut runs spec in the foreground and returns its exit code and output.
func runOut(t *testing.T, spec Spec) (code int, stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	code, err = Run(context.Background(), spec, Stdio{Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String(), err
}

// mustRun runs spec and fails the test unless it exits 0; it returns trimmed stdout.
func mustRun(t *testing.T, spec Spec) string {
	t.Helper()
	code, out, errOut, err := runOut(t, spec)
	if err != nil || code != 0 {
		t.Fatalf("Run(%q) = %d, %v; stderr: %s", spec.Args, code, err, errOut)
	}
	return strings.TrimSpace(out)
}

// staticSelf is a requirement for tests that run the test binary inside a container (--init's
// reaper, the exe probe): a dynamically linked binary (go test -race, a cgo build) finds no
// loader in the alpine rootfs. strata itself is built with CGO_ENABLED=0 for the same reason.
var staticSelf = testutil.Requirement{Name: "statically linked test binary", Check: func() string {
	self, err := os.Executable()
	if err != nil {
		return err.Error()
	}
	f, err := elf.Open(self)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "the test binary is dynamically linked (-race or cgo); it cannot run inside the container"
		}
	}
	return ""
}}

// onThrowawayThread runs fn on a locked OS thread that the runtime ends afterwards, so fn may
// change the thread's namespaces or credentials. The main thread is never ended, only parked,
// and /proc/self shows its namespaces: when the goroutine lands on it, it holds the main
// thread while fn runs on another.
func onThrowawayThread(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked unless on the main thread: the thread ends here
		if unix.Gettid() != unix.Getpid() {
			fn()
			close(done)
			return
		}
		go func() {
			runtime.LockOSThread() // not the main thread, which this goroutine's parent holds
			fn()
			close(done)
		}()
		<-done
		runtime.UnlockOSThread()
	}()
	<-done
}
