// Package bench holds the side-by-side benchmarks: run.sh and share.sh with their bash
// library, and the Go programs they build (imagegen, report, plot). This test keeps the
// scripts parseable and pins the record format the report reads.
package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestScriptsParse(t *testing.T) {
	scripts, err := filepath.Glob("*.sh")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := filepath.Glob("lib/*.sh")
	if err != nil {
		t.Fatal(err)
	}
	scripts = append(scripts, lib...)
	if len(scripts) < 3 {
		t.Fatalf("found %d scripts (%v), want run.sh, share.sh and lib/*.sh", len(scripts), scripts)
	}
	for _, s := range scripts {
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s = %v\n%s", s, err, out)
		}
	}
}

// TestRecordFormat checks that record and note write the tab-separated lines the report
// parses, with tabs and newlines in a note's text flattened so a line stays one record.
func TestRecordFormat(t *testing.T) {
	dir := t.TempDir()
	script := `set -euo pipefail
source lib/common.sh
BENCH_RESULTS=` + dir + `
record pull tmpfs/debian strata time s 1.5
note start alpine crun failed "$(printf 'line one\nline\ttwo')" 2>/dev/null
timed /dev/null sleep 0.01
echo "$ELAPSED"`
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("bash = %v\n%s", err, out)
	}
	// Only the format: how long sleep took depends on the machine.
	if elapsed := strings.TrimSpace(string(out)); !regexp.MustCompile(`^[0-9]+\.[0-9]{6}$`).MatchString(elapsed) || elapsed == "0.000000" {
		t.Errorf("timed set ELAPSED = %q, want positive seconds with 6 decimals", elapsed)
	}
	tests := []struct {
		file string
		want string
	}{
		{"samples.tsv", "pull\ttmpfs/debian\tstrata\ttime\ts\t1.5\n"},
		{"notes.tsv", "start\talpine\tcrun\tfailed\tline one line two\n"},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%s = %q, want %q", tt.file, b, tt.want)
		}
	}
}

// TestPullAdaptersRunInChildShell runs the strata pull adapter the way pull_once does, in a
// child bash that only has what run.sh exports, against a stub strata that prints its
// arguments: a setting the adapters read but run.sh does not export fails here.
func TestPullAdaptersRunInChildShell(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "strata")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\necho \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(dir, "images.json")
	if err := os.WriteFile(images, []byte(`[{"name":"alpine","ref":"127.0.0.1:5000/bench/alpine:3.20.3"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skipf("skipping: jq not installed (bench/run.sh installs it): %v", err)
	}
	script := `set -euo pipefail
for f in lib/*.sh; do source "$f"; done
STRATA=` + stub + ` IMAGES=` + images + ` REGISTRY=127.0.0.1:5000 BENCH_WORK=` + dir + ` INSECURE=1
export STRATA REGISTRY IMAGES BENCH_WORK BENCH_ID INSECURE
export -f $(declare -F | awk '{ print $3 }')
bash -c '"$@"' _ strata_pull /store alpine`
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("strata_pull in a child shell = %v\n%s", err, out)
	}
	want := "--root /store pull --insecure 127.0.0.1:5000/bench/alpine:3.20.3"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("stub strata got %q, want %q", got, want)
	}
}

// TestSectionRecordsItsTime checks that a section runs its functions in order and leaves its
// time in meta.tsv (which the report prints) and in SECTIONS (which the run's summary prints).
func TestSectionRecordsItsTime(t *testing.T) {
	dir := t.TempDir()
	script := `set -euo pipefail
source lib/common.sh
BENCH_RESULTS=` + dir + `
a() { echo -n a; }
b() { echo -n b; }
section "3 start" a b 2>/dev/null
echo " ${SECTIONS[*]}"`
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("bash = %v\n%s", err, out)
	}
	if !regexp.MustCompile(`^ab 3 start: [0-9]+ s\n$`).Match(out) {
		t.Errorf("section printed %q, want the functions' output in order, then \"3 start: N s\"", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "meta.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^time: 3 start\t[0-9]+ s\n$`).Match(b) {
		t.Errorf("meta.tsv = %q, want one \"time: 3 start\" line", b)
	}
}

// TestStrataShareSequence runs the sharing adapter of `strata bench share` against a stub
// strata that prints a report: the stub must get the qualified refs and TMPDIR inside the
// store dir, and each image's row must become a time and a growth record.
func TestStrataShareSequence(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skipf("skipping: jq not installed (bench/run.sh installs it): %v", err)
	}
	dir := t.TempDir()
	stub := filepath.Join(dir, "strata")
	args := filepath.Join(dir, "args")
	report := `{"images": [{"seconds": 1.5, "growth": 1000}, {"seconds": 0.25, "growth": 20}]}`
	if err := os.WriteFile(stub, []byte("#!/bin/sh\necho \"$TMPDIR $*\" >"+args+"\necho '"+report+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(dir, "images.json")
	if err := os.WriteFile(images, []byte(`[{"name":"app0","ref":"127.0.0.1:5000/bench/app:0"},{"name":"app1","ref":"127.0.0.1:5000/bench/app:1"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results")
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(results, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `set -euo pipefail
for f in lib/*.sh; do source "$f"; done
STRATA=` + stub + ` IMAGES=` + images + ` BENCH_WORK=` + dir + ` BENCH_RESULTS=` + results + `
strata_share_sequence sharing ` + dir + `/store app0 app1`
	if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("strata_share_sequence = %v\n%s", err, out)
	}
	got, err := os.ReadFile(args)
	if err != nil {
		t.Fatal(err)
	}
	if want := dir + "/store bench share --format json 127.0.0.1:5000/bench/app:0 127.0.0.1:5000/bench/app:1\n"; string(got) != want {
		t.Errorf("stub strata got %q, want %q", got, want)
	}
	samples, err := os.ReadFile(filepath.Join(results, "samples.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "sharing\t0\tstrata_share\ttime\ts\t1.5\nsharing\t0\tstrata_share\tgrowth\tbytes\t1000\n" +
		"sharing\t1\tstrata_share\ttime\ts\t0.25\nsharing\t1\tstrata_share\tgrowth\tbytes\t20\n"
	if string(samples) != want {
		t.Errorf("samples.tsv = %q, want %q", samples, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the store dir is still there after the sequence (stat: %v)", err)
	}
}

// TestDockerBundles runs docker_bundles with the real bench/ocisecurity over two `true`
// bundles: each gets a -docker copy with docker's 14 capabilities and a seccomp filter, the
// original is left as it was, and meta.tsv says what each kind carries. Without the
// generator, both runtimes get a note saying why they have no such row.
func TestDockerBundles(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skipf("skipping: jq not installed (bench/run.sh installs it): %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "ocisecurity"), "./ocisecurity").CombinedOutput(); err != nil {
		t.Fatalf("go build ./ocisecurity = %v\n%s", err, out)
	}
	plain := `{"process": {"args": ["/bin/true"], "capabilities": {"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]}}, "linux": {}}`
	for _, b := range []string{"bundle-true", "bundle-true-nocg"} {
		if err := os.MkdirAll(filepath.Join(dir, b), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, b, "config.json"), []byte(plain), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name    string
		bin     string
		bundles string // DOCKER_BUNDLES after the call
		meta    []string
		notes   string
	}{
		{"generator", filepath.Join(dir, "bin"), "1", []string{
			"bundle runc spec\t3 capabilities: AUDIT_WRITE, KILL, NET_BIND_SERVICE; no seccomp filter\n",
			"bundle docker defaults\t14 capabilities: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE; seccomp filter with default action SCMP_ACT_ERRNO, ",
		}, ""},
		{"no generator", filepath.Join(dir, "missing"), "", nil, "start\talpine\trunc_docker\tfailed\twriting the bundle: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			results := t.TempDir()
			work := t.TempDir()
			if err := os.MkdirAll(filepath.Join(work, "logs"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tt.bin, filepath.Join(work, "bin")); err != nil {
				t.Fatal(err)
			}
			for _, b := range []string{"bundle-true", "bundle-true-nocg"} {
				if err := os.Symlink(filepath.Join(dir, b), filepath.Join(work, b)); err != nil {
					t.Fatal(err)
				}
			}
			script := `set -euo pipefail
for f in lib/*.sh; do source "$f"; done
BENCH_WORK=` + work + ` BENCH_RESULTS=` + results + `
docker_bundles 2>/dev/null
echo "$DOCKER_BUNDLES"`
			out, err := exec.Command("bash", "-c", script).CombinedOutput()
			if err != nil {
				t.Fatalf("docker_bundles = %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.bundles {
				t.Errorf("DOCKER_BUNDLES = %q, want %q", got, tt.bundles)
			}
			meta, _ := os.ReadFile(filepath.Join(results, "meta.tsv"))
			for _, want := range tt.meta {
				if !strings.Contains(string(meta), want) {
					t.Errorf("meta.tsv = %q, want a line starting %q", meta, want)
				}
			}
			if tt.meta == nil && len(meta) > 0 {
				t.Errorf("meta.tsv = %q, want nothing when the bundles could not be written", meta)
			}
			notes, _ := os.ReadFile(filepath.Join(results, "notes.tsv"))
			if tt.notes == "" && len(notes) > 0 || !strings.Contains(string(notes), tt.notes) {
				t.Errorf("notes.tsv = %q, want %q", notes, tt.notes)
			}
			if tt.bundles == "" {
				return
			}
			for _, b := range []string{"bundle-true", "bundle-true-nocg"} {
				got, err := os.ReadFile(filepath.Join(work, b, "config.json"))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != plain {
					t.Errorf("%s/config.json changed: %s", b, got)
				}
				if _, err := os.Stat(filepath.Join(work, b+"-docker", "config.json")); err != nil {
					t.Errorf("%s-docker not written: %v", b, err)
				}
			}
		})
	}
}

// TestStartTimesDockerBundles runs measure_start with its probes, hyperfine and interleave
// stubbed out: runc and crun on the bundles with docker's defaults are timed next to the runc
// spec ones, back to back and spaced, and crun's pair runs in the hyperfine inside
// hide_cgroup2 when crun needs cgroup2 hidden, runc's pair in the plain one. The interleaved
// runs take every tool in one interleave, crun's in the hidden mount namespace (-mntns).
func TestStartTimesDockerBundles(t *testing.T) {
	interleaved := func(mntns string) string {
		var b strings.Builder
		for _, c := range []struct{ args, gap string }{{"-runs 60", "0"}, {"-runs 40", "0.2"}} {
			cas := "alpine-interleaved"
			if c.gap != "0" {
				cas += "-spaced"
			}
			fmt.Fprintf(&b, "interleave %s -warmup 3 -gap %s -o /r/interleave-start-%s.json", c.args, c.gap, cas)
			for i, t := range []string{"strata", "runc", "runc_docker", "crun", "crun_docker"} {
				if i > 0 {
					b.WriteString(" ;;")
				}
				fmt.Fprintf(&b, " -n %s", t)
				if mntns != "" && strings.HasPrefix(t, "crun") {
					fmt.Fprintf(&b, " -mntns %s", mntns)
				}
				fmt.Fprintf(&b, " -- %s registry/alpine", t)
			}
			fmt.Fprintf(&b, "\nrecorded start %s\n", cas)
		}
		return b.String()
	}
	for _, tt := range []struct {
		hide string
		want string
	}{
		{"hide", `start alpine || strata runc runc_docker
start alpine-crun |hide_cgroup2| crun crun_docker
start alpine-spaced || strata runc runc_docker
start alpine-spaced-crun |hide_cgroup2| crun crun_docker
` + interleaved("4242")},
		{"", `start alpine || strata runc runc_docker crun crun_docker
start alpine-spaced || strata runc runc_docker crun crun_docker
` + interleaved("")},
	} {
		bin := filepath.Join(t.TempDir(), "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(filepath.Dir(bin), "logs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, "interleave"), []byte("#!/bin/sh\necho interleave \"$@\" >&3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		script := `set -euo pipefail
for f in lib/*.sh; do source "$f"; done
BENCH_WORK=` + filepath.Dir(bin) + ` BENCH_RESULTS=/r HF_RUNS=20 HF_WARMUP=3
hidden_holder() { HIDE_HOLDER=4242; }
hyperfine_record() { echo "recorded $1 $2"; }
exec 3>&1 # the interleave stub's line goes to our output, past the log its output goes to
warm_stores() { :; }
bundles() { :; }
probe_start() { :; }
sync() { :; }
meta() { :; }
log() { :; }
ref() { echo "registry/$1"; }
# The names hyperfine gets, one line per hyperfine run.
hyperfine_json() {
	echo -n "$1 $2 |$3|"
	shift 3
	while (($#)); do echo -n " $2"; shift 3; done # -n NAME COMMAND
	echo
}
for t in strata runc runc_docker crun crun_docker; do START_CMD[$t]="$t IMAGE"; done
CRUN_HIDE=` + tt.hide + `
measure_start`
		out, err := exec.Command("bash", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("measure_start = %v\n%s", err, out)
		}
		if string(out) != tt.want {
			t.Errorf("CRUN_HIDE=%q: hyperfine runs\n%s\nwant\n%s", tt.hide, out, tt.want)
		}
	}
}
