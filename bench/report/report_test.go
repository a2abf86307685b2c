package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []float64
		want Stat
		ok   bool
	}{
		{nil, Stat{}, false},
		{[]float64{3}, Stat{3, 3, 3, 1}, true},
		{[]float64{3, 1, 2}, Stat{2, 1, 3, 3}, true},
		{[]float64{4, 1, 3, 2}, Stat{2.5, 1, 4, 4}, true},
	}
	for _, tt := range tests {
		got, ok := summarize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("summarize(%v) = %+v, %v, want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{seconds(0.0042), "4.2 ms"},
		{seconds(0.25), "250 ms"},
		{seconds(2.345), "2.35 s"},
		{seconds(12.34), "12.3 s"},
		{seconds(math.NaN()), "—"},
		{bytes(2048), "2 KiB"},
		{bytes(5 << 20), "5.0 MiB"},
		{bytes(300 << 20), "300 MiB"},
		{ratio(1, 2), "0.50×"},
		{ratio(1, 0), "—"},
		{ratio(1, math.NaN()), "—"},
		{ratio(1, math.Inf(1)), "—"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// writeResults lays out a results directory as bench/run.sh writes it.
func writeResults(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func rows(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func TestRunWritesTablesFromSamples(t *testing.T) {
	results := writeResults(t, map[string]string{
		"meta.tsv": rows("date\t2026-01-01 00:00 UTC", "mode\tfull", "runs\t3", "nproc\t2", "version podman\t4.3.1",
			"time: setup\t40 s", "time: 1 pull\t300 s", "duration\t350 s"),
		"samples.tsv": rows(
			"pull\ttmpfs/debian\tstrata\ttime\ts\t1", "pull\ttmpfs/debian\tstrata\ttime\ts\t2", "pull\ttmpfs/debian\tstrata\ttime\ts\t3",
			"pull\ttmpfs/debian\tpodman\ttime\ts\t2", "pull\ttmpfs/debian\tpodman\ttime\ts\t4", "pull\ttmpfs/debian\tpodman\ttime\ts\t6",
			"pull\ttmpfs/debian\tcurl_tar\ttime\ts\t1",
			"pull\ttmpfs/debian\tskopeo\ttime\ts\t0.5", "pull\ttmpfs/debian\tcurl\ttime\ts\t0.25",
			"pull\ttmpfs/debian\tstrata\trss\tbytes\t20971520",
			"sharing\t0\tstrata\ttime\ts\t1", "sharing\t0\tstrata\tgrowth\tbytes\t104857600",
			"sharing\t1\tstrata\ttime\ts\t0.05", "sharing\t1\tstrata\tgrowth\tbytes\t8388608",
			"sharing\t0\tstrata_share\ttime\ts\t0.9", "sharing\t0\tstrata_share\tgrowth\tbytes\t104857600",
			"sharing\t1\tstrata_share\ttime\ts\t0.04", "sharing\t1\tstrata_share\tgrowth\tbytes\t8388608",
			"start\talpine\tcrun\ttime\ts\t0.03",
			"start\talpine-spaced\tstrata\ttime\ts\t0.012", "start\talpine-spaced\tcrun\ttime\ts\t0.024",
			"scaling-pull\t10\tpodman\ttime\ts\t2", "scaling-pull\t1\tpodman\ttime\ts\t1",
		),
		"notes.tsv": rows("start\talpine\tstrata\tfailed\tinit: mounting rootfs | oops", "start\talpine\tstrata\tfailed\tinit: mounting rootfs | oops"),
		"images.json": `[{"name":"app0","layers":[{"digest":"sha256:a","size":50000000,"unpacked":100000000},{"digest":"sha256:b","size":4194304,"unpacked":4194304}]},
			{"name":"app1","layers":[{"digest":"sha256:a","size":50000000,"unpacked":100000000},{"digest":"sha256:c","size":4194304,"unpacked":4194304}]}]`,
	})
	md, docs := renderDoc(t, results)
	for _, want := range []string{
		"| **strata** | 2.00 s | 1.00 s – 3.00 s | 3 | 0.50× | 2.00× | 20.0 MiB |", // median 2 vs podman 4 and curl | tar 1
		"| podman | 4.00 s | 2.00 s – 6.00 s | 3 | 1.00× | 4.00× |",
		"| skopeo copy, blobs only | 500 ms | 500 ms – 500 ms | 1 | 1.00× | 2.00× |", // the blobs-only peer; against curl, not the unpacking peers
		"failed: init: mounting rootfs \\| oops |",                                   // the reason, escaped for the table
		"| nproc | 2 |",
		"| total time of the run | 350 s |",
		"| time per section | setup: 40 s, 1 pull: 300 s |",
		"| **strata bench share** (in-process: no process start) | 900 ms | 40 ms |",
		"| podman | 4.3.1 |",
		"The same starts spaced out", // the spaced starts get their own table
		"| **strata** | 12 ms | 12 ms – 12 ms | 1 | 0.50× | — | — |", // against crun's spaced 24 ms
		"| 1 layers | 10 layers |",
		"bench-pull.svg", "bench-start.svg", "bench-sharing-disk.svg",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("benchmarks.md lacks %q\n%s", want, md)
		}
	}
	if n := strings.Count(md, "init: mounting rootfs"); n != 2 {
		t.Errorf("the repeated note appears %d times, want 2 (once in the table, once in the notes)", n)
	}
	for _, svg := range []string{"bench-pull.svg", "bench-start.svg", "bench-sharing-disk.svg", "bench-scaling-pull.svg"} {
		if _, err := os.Stat(filepath.Join(docs, svg)); err != nil {
			t.Errorf("plot %s not written: %v", svg, err)
		}
	}
}

func TestRunRemovesStalePlots(t *testing.T) {
	results := writeResults(t, map[string]string{"meta.tsv": "mode\tquick\n", "samples.tsv": ""})
	docs := t.TempDir()
	stale := filepath.Join(docs, "bench-old.svg")
	if err := os.WriteFile(stale, []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(results, docs); err != nil {
		t.Fatalf("run = %v", err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("stale plot %s survived a new report", stale)
	}
}

func TestLoadRejectsBadResults(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"no meta", map[string]string{"samples.tsv": ""}},
		{"no samples", map[string]string{"meta.tsv": ""}},
		{"short sample", map[string]string{"meta.tsv": "", "samples.tsv": "pull\tx\tstrata\ttime\n"}},
		{"bad number", map[string]string{"meta.tsv": "", "samples.tsv": "pull\tx\tstrata\ttime\ts\tfast\n"}},
		{"bad images", map[string]string{"meta.tsv": "", "samples.tsv": "", "images.json": "{"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := load(writeResults(t, tt.files)); err == nil {
				t.Errorf("load(%s) = nil error, want an error", tt.name)
			}
		})
	}
}

// TestStartBundles checks the rows of runc and crun on the bundle with docker's security
// defaults: they get their own rows, leave "× best peer" against the runc spec bundles as it
// was, and strata's start is divided by each runtime's in a table of its own, under a note
// saying what each bundle carries.
func TestStartBundles(t *testing.T) {
	results := writeResults(t, map[string]string{
		"meta.tsv": rows("mode\tfull", "hyperfine warmup\t3", "start gap\t0.2",
			"bundle runc spec\t3 capabilities: AUDIT_WRITE, KILL, NET_BIND_SERVICE; no seccomp filter",
			"bundle docker defaults\t14 capabilities: CHOWN, KILL; seccomp filter with default action SCMP_ACT_ERRNO, 42 rules naming 371 syscalls"),
		"samples.tsv": rows(
			"start\talpine\tstrata\ttime\ts\t0.024", "start\talpine\trunc\ttime\ts\t0.04", "start\talpine\trunc_docker\ttime\ts\t0.06",
			"start\talpine\tcrun\ttime\ts\t0.02", "start\talpine\tcrun_docker\ttime\ts\t0.05",
			"start\talpine-spaced\tstrata\ttime\ts\t0.03", "start\talpine-spaced\trunc\ttime\ts\t0.06",
			"start\talpine-spaced\tcrun\ttime\ts\t0.03", "start\talpine-spaced\tcrun_docker\ttime\ts\t0.06",
		),
		"notes.tsv": rows("start\talpine-spaced\trunc_docker\tfailed\tinvalid seccomp | oops"),
	})
	md, docs := renderDoc(t, results)
	for _, want := range []string{
		"| **strata** | 24 ms | 24 ms – 24 ms | 1 | 1.20× | — | — |", // still against crun on the runc spec bundle
		"| runc (prepared bundle, docker's default profile) | 60 ms | 60 ms – 60 ms | 1 | 3.00× | — | — |",
		"| crun (prepared bundle, docker's default profile) | 50 ms | 50 ms – 50 ms | 1 | 2.50× | — | — |",
		"| runc (prepared bundle, docker's default profile) | failed: invalid seccomp \\| oops |", // spaced: why it has no numbers
		"\"prepared bundle\" is `runc spec`'s (3 capabilities: AUDIT_WRITE, KILL, NET_BIND_SERVICE; no seccomp filter);",
		"resolved for them (14 capabilities: CHOWN, KILL; seccomp filter with default action SCMP_ACT_ERRNO, 42 rules naming 371 syscalls),",
		"| strata ÷ | back to back | spaced |",
		"| runc (prepared bundle) | 0.60× | 0.50× |",
		"| runc (prepared bundle, docker's default profile) | 0.40× | — |",
		"| crun (prepared bundle) | 1.20× | 1.00× |",
		"| crun (prepared bundle, docker's default profile) | 0.48× | 0.50× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("benchmarks.md lacks %q\n%s", want, md)
		}
	}
	// The plot gets labels short enough for its label column (230 px).
	svg, err := os.ReadFile(filepath.Join(docs, "bench-start.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">runc, docker&#39;s default profile<", ">crun, docker&#39;s default profile<"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("bench-start.svg lacks the label %q", want)
		}
	}
	// The runtimes in the table of ratios come in startTools' order: each bundle pair together.
	if i, j := strings.Index(md, "| runc (prepared bundle) | 0.60×"), strings.Index(md, "| crun (prepared bundle, docker's default profile) | 0.48×"); i < 0 || j < i {
		t.Errorf("ratio rows out of order (runc at %d, crun with docker's profile at %d)", i, j)
	}
}

// TestStartWithoutDockerBundles checks that results of a run that did not measure the
// bundles with docker's defaults (before they existed) get no note and no ratio table.
func TestStartWithoutDockerBundles(t *testing.T) {
	results := writeResults(t, map[string]string{
		"meta.tsv":    rows("mode\tfull"),
		"samples.tsv": rows("start\talpine\tstrata\ttime\ts\t0.024", "start\talpine\tcrun\ttime\ts\t0.02"),
	})
	b, _ := renderDoc(t, results)
	for _, unwanted := range []string{"docker's default profile", "strata ÷"} {
		if strings.Contains(b, unwanted) {
			t.Errorf("benchmarks.md mentions %q without those measurements\n%s", unwanted, b)
		}
	}
}

// renderDoc renders the report of the results dir and returns its benchmarks.md and the
// dir it was written to.
func renderDoc(t *testing.T, results string) (md, docs string) {
	t.Helper()
	docs = t.TempDir()
	if err := run(results, docs); err != nil {
		t.Fatalf("run = %v", err)
	}
	b, err := os.ReadFile(filepath.Join(docs, "benchmarks.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b), docs
}

// TestStartInterleaved: the interleaved starts get their tables, and the ratio table divides
// strata's start by each runtime's round by round (the median of the ratios, with their
// middle half), or by the medians when a failed run left the series unpaired.
func TestStartInterleaved(t *testing.T) {
	results := writeResults(t, map[string]string{
		"meta.tsv": rows("mode\tfull", "hyperfine warmup\t3", "start gap\t0.2", "interleaved runs\t3 rounds back to back, 2 spaced"),
		"samples.tsv": rows(
			"start\talpine\tstrata\ttime\ts\t0.010", "start\talpine\tcrun\ttime\ts\t0.008",
			// Round by round strata takes 0.9, 0.8 and 1.5 times crun's time.
			"start\talpine-interleaved\tstrata\ttime\ts\t0.009", "start\talpine-interleaved\tcrun\ttime\ts\t0.010",
			"start\talpine-interleaved\tstrata\ttime\ts\t0.008", "start\talpine-interleaved\tcrun\ttime\ts\t0.010",
			"start\talpine-interleaved\tstrata\ttime\ts\t0.030", "start\talpine-interleaved\tcrun\ttime\ts\t0.020",
			// runc lost a run: no pairs, the medians are divided.
			"start\talpine-interleaved\trunc\ttime\ts\t0.020", "start\talpine-interleaved\trunc\ttime\ts\t0.040",
			"start\talpine-interleaved-spaced\tstrata\ttime\ts\t0.010", "start\talpine-interleaved-spaced\tcrun\ttime\ts\t0.020",
			"start\talpine-interleaved-spaced\tstrata\ttime\ts\t0.012", "start\talpine-interleaved-spaced\tcrun\ttime\ts\t0.024",
		),
		"notes.tsv": rows("start\talpine\tcrun\tnote\tworks"),
	})
	md, _ := renderDoc(t, results)
	for _, want := range []string{
		"strata and the OCI runtimes once more, interleaved (`bench/interleave`, 3 rounds back to back, 2 spaced)",
		"| **strata** | 9.0 ms | 8.0 ms – 30 ms | 3 |",
		"Interleaved and spaced (0.2 s slept before each run, not timed):",
		"| strata ÷ | back to back | spaced | interleaved | interleaved, spaced |",
		"| crun (prepared bundle) | 1.25× | — | 0.90× (0.85–1.20) | 0.50× (0.50–0.50) |",
		"| runc (prepared bundle) | — | — | 0.30× (medians) | — |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("benchmarks.md lacks %q\n%s", want, md)
		}
	}
}
