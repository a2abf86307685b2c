package layers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// manyEntries is the size of the layers of BenchmarkApplyManyEntries: node_modules and Python
// site-packages layers hold 10^4 to 10^5 entries, nearly all small files.
const manyEntries = 20_000

// manyEntryLayers are layers of manyEntries entries of one shape each, with no content.
var manyEntryLayers = []struct {
	name    string
	entries func(n int) []ent
}{
	// One directory of empty files.
	{"files", func(n int) []ent {
		e := []ent{dir("d/", 0o755)}
		for i := range n - 1 {
			e = append(e, file(fmt.Sprintf("d/f%07d", i), "", 0o644))
		}
		return e
	}},
	// A package tree: ten files a directory, in directories of a hundred top ones.
	{"tree", func(n int) []ent {
		var e []ent
		for d := 0; len(e) < n; d++ {
			if d < 100 {
				e = append(e, dir(fmt.Sprintf("a%02d/", d), 0o755))
			}
			dn := fmt.Sprintf("a%02d/b%05d/", d%100, d)
			e = append(e, dir(dn, 0o755))
			for f := range 9 {
				e = append(e, file(fmt.Sprintf("%sf%d.py", dn, f), "", 0o644))
			}
		}
		return e[:n]
	}},
	// Directories only, in chains twenty deep.
	{"dirs", func(n int) []ent {
		var e []ent
		for i := range n {
			name := fmt.Sprintf("c%06d/", i/20)
			for j := 1; j <= i%20; j++ {
				name += fmt.Sprintf("l%02d/", j)
			}
			e = append(e, dir(name, 0o755))
		}
		return e
	}},
	// Hard links to two files of their directory.
	{"hardlinks", func(n int) []ent {
		e := []ent{dir("d/", 0o755), file("d/t0", "", 0o644), file("d/t1", "", 0o644)}
		for i := 0; len(e) < n; i++ {
			e = append(e, hardlink(fmt.Sprintf("d/l%07d", i), fmt.Sprintf("d/t%d", i%2)))
		}
		return e
	}},
	{"symlinks", func(n int) []ent {
		e := []ent{dir("d/", 0o755)}
		for i := 0; len(e) < n; i++ {
			e = append(e, symlink(fmt.Sprintf("d/s%07d", i), fmt.Sprintf("../x/%d", i)))
		}
		return e
	}},
	// An upper layer of a tree: whiteouts, opaque directories, new files.
	{"whiteouts", func(n int) []ent {
		var e []ent
		for d := 0; len(e) < n; d++ {
			dn := fmt.Sprintf("a%02d/b%05d/", d%100, d)
			e = append(e, dir(dn, 0o755))
			if d%3 == 0 {
				e = append(e, file(dn+whiteoutOpaque, "", 0o644))
			}
			for f := range 4 {
				e = append(e, file(fmt.Sprintf("%s.wh.f%d.py", dn, f), "", 0o644), file(fmt.Sprintf("%sn%d.py", dn, f), "", 0o644))
			}
		}
		return e[:n]
	}},
}

// BenchmarkApplyManyEntries applies layers of many entries and no content, where the cost is
// all per entry, with tar -x of the same tar as the yardstick (tar/ sub-benchmarks, skipped
// without a tar). b.TempDir is under TMPDIR: set it to the filesystem to measure (an ext4
// without a journal makes every creation slow for minutes after a large removal, tar's too).
func BenchmarkApplyManyEntries(b *testing.B) {
	for _, l := range manyEntryLayers {
		layer, err := tarBytes(l.entries(manyEntries)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(l.name+"/strata", func(b *testing.B) {
			benchManyEntries(b, func(dir string) error {
				opts := Options{IgnoreOwners: os.Geteuid() != 0}
				_, err := Apply(context.Background(), dir, bytes.NewReader(layer), opts)
				return err
			})
		})
		b.Run(l.name+"/tar", func(b *testing.B) {
			tarBin, err := exec.LookPath("tar")
			if err != nil {
				b.Skip("no tar")
			}
			benchManyEntries(b, func(dir string) error {
				cmd := exec.Command(tarBin, "-x", "-C", dir)
				cmd.Stdin = bytes.NewReader(layer)
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("%w: %s", err, out)
				}
				return nil
			})
		})
	}
}

// benchManyEntries times apply into a fresh dir per iteration and reports ns per entry, of
// wall time and of CPU time (user and system, of the process and of the tar it waited for),
// which a busy machine disturbs less.
func benchManyEntries(b *testing.B, apply func(dir string) error) {
	base := b.TempDir()
	var cpu time.Duration
	i := 0
	for b.Loop() {
		dir := filepath.Join(base, fmt.Sprint(i))
		i++
		b.StopTimer()
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		before := cpuTime()
		if err := apply(dir); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - before
		b.StopTimer()
		makeWritable(dir)
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/manyEntries, "ns/entry")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/manyEntries, "cpu-ns/entry")
}

// cpuTime is the user and system time of this process and of its children waited for.
func cpuTime() time.Duration {
	var t time.Duration
	for _, who := range []int{unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN} {
		var ru unix.Rusage
		if unix.Getrusage(who, &ru) == nil {
			t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return t
}
