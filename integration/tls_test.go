package integration

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/testutil"
)

// tlsTestIP is the registry host's address in the test's own network namespace: strata
// verifies certificates for every registry but loopback ones (as Docker does), so the TLS
// failure needs a non-loopback address, and that address lives only in a namespace this test
// makes and removes (TEST-NET-1, never routed).
const tlsTestIP = "192.0.2.10"

// TestPullTLSError pulls from an HTTPS registry whose certificate nobody signed: one line
// that names the TLS problem and suggests --insecure, exit 1, nothing stored.
func TestPullTLSError(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Command("ip"))
	ns := fmt.Sprintf("strata-tls-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", tlsTestIP + "/32", "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ln := listenInNetns(t, ns, net.JoinHostPort(tlsTestIP, "0"))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	// The handshake strata refuses is the test's point, not news for the test's log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	root := newRoot(t)
	cmd := exec.Command("ip", "netns", "exec", ns, strataBin, "--root", root, "pull", ln.Addr().String()+"/library/alpine:1")
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	r := result{Code: cmd.ProcessState.ExitCode(), Stdout: string(out), Stderr: stderr}
	for _, want := range []string{"tls:", "certificate", "--insecure"} {
		checkFailed(t, r, want)
	}
	if blobs, _ := filepath.Glob(filepath.Join(root, "oci", "blobs", "sha256", "*")); len(blobs) != 0 {
		t.Errorf("a failed TLS pull stored %v", blobs)
	}
}

// listenInNetns opens a TCP listener inside the named network namespace: a socket belongs
// to the namespace it was created in, whichever thread later accepts on it.
func listenInNetns(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	// The thread is unlocked only once it is back in the host namespace; a goroutine that
	// ends locked takes its thread with it, so a thread stuck in the test's namespace dies.
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("entering netns %s: %v", ns, err)
	}
	ln, lerr := net.Listen("tcp", addr)
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("returning to the host netns: %v", err)
	}
	runtime.UnlockOSThread()
	if lerr != nil {
		t.Fatalf("listening on %s in netns %s: %v", addr, ns, lerr)
	}
	return ln
}
