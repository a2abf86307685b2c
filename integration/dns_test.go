package integration

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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
		go serveNXDOMAIN(conn)
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

// serveNXDOMAIN answers each DNS query with its own question and RCODE 3 (name error).
func serveNXDOMAIN(conn net.PacketConn) {
	buf := make([]byte, 512)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		fakeDNSQueries.Add(1)
		reply := append([]byte(nil), buf[:n]...)
		flags := binary.BigEndian.Uint16(reply[2:4])
		// QR=1, keep opcode and RD, RA=1, RCODE=3.
		flags = 0x8000 | (flags & 0x7900) | 0x0080 | 3
		binary.BigEndian.PutUint16(reply[2:4], flags)
		binary.BigEndian.PutUint16(reply[6:8], 0)   // answers
		binary.BigEndian.PutUint16(reply[8:10], 0)  // authority
		binary.BigEndian.PutUint16(reply[10:12], 0) // additional: drop EDNS
		reply = reply[:12+questionLen(reply[12:])]
		conn.WriteTo(reply, addr)
	}
}

// questionLen is the length of the first question (name, type, class) in b.
func questionLen(b []byte) int {
	i := 0
	for i < len(b) && b[i] != 0 {
		i += int(b[i]) + 1
	}
	i += 1 + 4
	if i > len(b) {
		return len(b)
	}
	return i
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
