package integration

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strata-run/strata/internal/testdns"
	"github.com/strata-run/strata/internal/testutil"
)

// Pulls of an unknown host ask DNS. Tests must not send that query to the machine's real
// resolver, so every strata the tests start reads a resolv.conf naming a responder on
// 127.0.0.1 that answers every question with NXDOMAIN: an unknown host stays unknown, and
// no packet leaves the machine. strata's own tests only name loopback addresses otherwise.

var (
	// fakeDNSQueries counts the questions the responder answered.
	fakeDNSQueries atomic.Int64
	fakeDNSOnce    sync.Once
	fakeDNSConf    string
	fakeDNSErr     error
)

// nxdomainResolvConf starts (once per test binary) the NXDOMAIN responder and returns the
// path of a resolv.conf that points at it.
func nxdomainResolvConf(t *testing.T) string {
	t.Helper()
	fakeDNSOnce.Do(func() {
		conn, err := net.ListenPacket("udp", "127.0.0.1:53")
		if err != nil {
			fakeDNSErr = err
			return
		}
		go testdns.ServeNXDOMAIN(conn, &fakeDNSQueries)
		dir, err := os.MkdirTemp("", "strata-dns")
		if err != nil {
			fakeDNSErr = err
			return
		}
		fakeDNSConf = filepath.Join(dir, "resolv.conf")
		fakeDNSErr = os.WriteFile(fakeDNSConf, []byte("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n"), 0o644)
	})
	if fakeDNSErr != nil {
		t.Skipf("skipping: cannot serve fake DNS on 127.0.0.1:53: %v", fakeDNSErr)
	}
	return fakeDNSConf
}

// removeFakeDNSConf removes the directory of the resolv.conf nxdomainResolvConf wrote, if it
// did: TestMain calls it once the tests are done (the responder ends with the process).
func removeFakeDNSConf() {
	if fakeDNSConf != "" {
		os.RemoveAll(filepath.Dir(fakeDNSConf))
	}
}

// withoutRealDNS wraps argv so strata runs in a private mount namespace whose
// /etc/resolv.conf names only the NXDOMAIN responder.
func withoutRealDNS(t *testing.T, argv []string) []string {
	t.Helper()
	testutil.Requires(t, testutil.Root, testutil.Command("unshare"))
	conf := nxdomainResolvConf(t)
	script := `mount --make-rprivate / && mount --bind "$0" /etc/resolv.conf && exec "$@"`
	return append([]string{"unshare", "-m", "sh", "-c", script, conf}, argv...)
}

// namesUnknownHost reports whether args name a registry host that needs DNS.
func namesUnknownHost(args []string) bool {
	for _, a := range args {
		if strings.Contains(a, ".invalid") {
			return true
		}
	}
	return false
}
