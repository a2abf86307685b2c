// Package testdns keeps tests off the machine's DNS resolver. It is a package of its own: it
// imports net, which cgo builds link dynamically, and the runner's tests re-execute their own
// binary inside alpine containers, where only a static one runs.
package testdns

import (
	"context"
	"encoding/binary"
	"net"
	"sync/atomic"
)

// Tests must send no DNS query to the machine's real resolver (nothing may leave 127.0.0.1).
// ServeNXDOMAIN answers every question with "no such name", so an unknown host stays unknown
// without a packet leaving the machine.

// ServeNXDOMAIN answers each DNS query read from conn with its own question and RCODE 3
// (name error), counting them in queries (if not nil), until conn is closed.
func ServeNXDOMAIN(conn net.PacketConn, queries *atomic.Int64) {
	buf := make([]byte, 512)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		if queries != nil {
			queries.Add(1)
		}
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

// NoRealDNS points this process's resolver (net.DefaultResolver, which every dial and lookup
// uses) at an NXDOMAIN responder on 127.0.0.1, for a package's TestMain: names in /etc/hosts
// still resolve, any other name is unknown, and no query reaches the network. stop restores
// the resolver.
func NoRealDNS() (stop func(), err error) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go ServeNXDOMAIN(conn, nil)
	addr := conn.LocalAddr().String()
	saved := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		// UDP whatever the resolver asked for: the responder's answers are never truncated.
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
	return func() {
		net.DefaultResolver = saved
		conn.Close()
	}, nil
}
