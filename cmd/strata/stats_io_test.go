package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
)

// TestDecimalSize: docker stats's sizes (go-units HumanSizeWithPrecision(n, 3)), quirks and all.
func TestDecimalSize(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0B", 648: "648B", 999: "999B", 1000: "1kB", 1234: "1.23kB", 1200: "1.2kB",
		12345678: "12.3MB", 999999: "1e+03kB", 5e9: "5GB", 1 << 63: "9.22EB",
	} {
		if got := decimalSize(n); got != want {
			t.Errorf("decimalSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestParseNetDev: every interface but lo is counted; headers and junk are not.
func TestParseNetDev(t *testing.T) {
	const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0
  eth0:    1200       8    0    0    0     0          0         0      648       6    0    0    0     0       0          0
 veth1:     100       1    0    0    0     0          0         0       52       1    0    0    0     0       0          0
 bad: x
`
	rx, tx := parseNetDev(dev)
	if rx != 1300 || tx != 700 {
		t.Errorf("parseNetDev = %d, %d; want 1300, 700", rx, tx)
	}
}

// TestStatsIOColumns: the default table has docker's NET I/O and BLOCK I/O columns, and a
// container removed while shown has "--" in them, as docker's.
func TestStatsIOColumns(t *testing.T) {
	c := &runner.Container{ID: strings.Repeat("cd", 32), Config: runner.Config{Name: "db"}}
	at := time.Now()
	cur := statsSample{at: at, stats: cgroups.Stats{BlkioRead: 4096, BlkioWrite: 1234567}, netRx: 1200, netTx: 648}
	row := newStatsRow(statsTarget{c: c}, statsSample{}, cur, 8<<20)
	var b bytes.Buffer
	if err := printStats(&b, []statsRow{row}, ""); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "CONTAINER ID NAME CPU % MEM USAGE / LIMIT MEM % NET I/O BLOCK I/O PIDS" {
		t.Errorf("header = %q", lines[0])
	}
	if !strings.Contains(lines[1], "1.2kB / 648B") || !strings.Contains(lines[1], "4.1kB / 1.23MB") {
		t.Errorf("row = %q, want NET I/O 1.2kB / 648B and BLOCK I/O 4.1kB / 1.23MB", lines[1])
	}
	b.Reset()
	if err := printStats(&b, []statsRow{row}, "{{.NetIO}}|{{.BlockIO}}"); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(b.String()); got != "1.2kB / 648B|4.1kB / 1.23MB" {
		t.Errorf("--format {{.NetIO}}|{{.BlockIO}} = %q", got)
	}
	gone := newStatsRow(statsTarget{c: c, named: "db", gone: true}, statsSample{}, statsSample{}, 0)
	if gone.NetIO != "--" || gone.BlockIO != "--" {
		t.Errorf("gone row NetIO, BlockIO = %q, %q; want --", gone.NetIO, gone.BlockIO)
	}
}
