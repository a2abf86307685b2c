package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/strata-run/strata/runner"
)

// containerNetIO is the bytes received and sent on c's network interfaces, from
// /proc/<pid>/net/dev (pid: its init, or another of its processes), which shows the
// container's network namespace. lo is left out, and a
// --network host container shows none, as docker counts only the interfaces of the
// container's own network endpoints. 0 where it cannot be read (the init just exited).
func containerNetIO(c *runner.Container, pid int) (rx, tx uint64) {
	if pid <= 0 || c.Config.Spec.Network == runner.NetworkHost {
		return 0, 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return 0, 0
	}
	return parseNetDev(string(b))
}

// parseNetDev sums the received and sent bytes of /proc/net/dev's interfaces but lo: after
// two header lines, "  eth0: RX-bytes packets errs drop fifo frame compressed multicast
// TX-bytes ...".
func parseNetDev(s string) (rx, tx uint64) {
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		rx += r
		tx += t
	}
	return rx, tx
}

// decimalSize is n as docker's go-units HumanSizeWithPrecision(n, 3) prints it in stats:
// decimal units, three significant digits ("1.23kB", "648B", "0B").
func decimalSize(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	size, i := float64(n), 0
	for size >= 1000 && i < len(units)-1 {
		size /= 1000
		i++
	}
	return fmt.Sprintf("%.*g%s", 3, size, units[i])
}
