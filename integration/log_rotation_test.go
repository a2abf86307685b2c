package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lineNumbers reads "line<i>" lines into their numbers, failing on anything else.
func lineNumbers(t *testing.T, out string) []int {
	t.Helper()
	var nums []int
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		n, err := strconv.Atoi(strings.TrimPrefix(l, "line"))
		if err != nil || !strings.HasPrefix(l, "line") {
			t.Fatalf("logs printed %q, not a line<i>", l)
		}
		nums = append(nums, n)
	}
	return nums
}

// logFilesOf lists the log files in a container's dir (log.json and its rotated files) with
// their sizes.
func logFilesOf(t *testing.T, root, id string) map[string]int64 {
	t.Helper()
	logPath := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.LogPath}}", id).Stdout)
	ents, err := os.ReadDir(filepath.Dir(logPath))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]int64{}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "log.json") {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = fi.Size()
		}
	}
	return files
}

// TestLogRotation: docker's --log-driver and --log-opt on real containers. A detached
// container that writes far more than max-size leaves log.json and max-file-1 rotated files,
// each within max-size (gzipped with compress); logs prints the last lines kept, in order,
// ending with the last one, --tail counting back across the files, and logs -f, following
// it from its start, prints lines in order up to the last. start keeps the options, and a
// restart policy's runs and a foreground run rotate their logs too. local is bounded by
// default. --log-driver none keeps no log: logs says so, as docker's. labels, env and tag
// give the entries attributes, which logs --details shows. Bad drivers and options are
// refused in docker's words, exit 125.
func TestLogRotation(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	mustStrata(t, root, "--registry-mirror", "http://"+reg.Host, "pull", "alpine")

	// Each entry of log.json ("line<i>\n" with its stream and time) is about 80 bytes.
	const lines = 600
	printing := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo line$i; i=$((i+1)); done`, lines)
	// Followed, it prints once /tmp/go is there, made once logs -f follows.
	script := `until [ -e /tmp/go ]; do sleep 0.02; done; ` + printing
	for _, compress := range []bool{false, true} {
		name := fmt.Sprintf("rot-%v", compress)
		opts := []string{"--log-opt", "max-size=2k", "--log-opt", "max-file=3"}
		want := []string{"log.json", "log.json.1", "log.json.2"}
		if compress {
			opts = append(opts, "--log-opt", "compress=true")
			want = []string{"log.json", "log.json.1.gz", "log.json.2.gz"}
		}
		id := detached(t, root, append(append([]string{"--name", name}, opts...), "alpine", "sh", "-c", script)...)
		// Followed from before its first line: every line it prints is in order, up to
		// the last (lines rotated off the end before it read them are gone, as docker's).
		follow := exec.Command(strataBin, "--root", root, "logs", "-f", name)
		var out, stderr bytes.Buffer
		follow.Stdout, follow.Stderr = &out, &stderr
		if err := follow.Start(); err != nil {
			t.Fatal(err)
		}
		waitWaiting(t, root, id, follow.Process.Pid) // it follows the running container
		mustStrata(t, root, "exec", name, "touch", "/tmp/go")
		if err := follow.Wait(); err != nil {
			t.Fatalf("%s: logs -f: %v, %q", name, err, stderr.String())
		}
		nums := lineNumbers(t, out.String())
		for i := 1; i < len(nums); i++ {
			if nums[i] <= nums[i-1] {
				t.Fatalf("%s: logs -f printed line%d after line%d; want the lines in order, once each", name, nums[i], nums[i-1])
			}
		}
		if nums[len(nums)-1] != lines-1 {
			t.Errorf("%s: logs -f ended with line%d, want line%d", name, nums[len(nums)-1], lines-1)
		}
		mustStrata(t, root, "wait", id)
		files := logFilesOf(t, root, id)
		var names []string
		for n, size := range files {
			names = append(names, n)
			if size > 2000 {
				t.Errorf("%s: %s is %d bytes, more than max-size 2k", name, n, size)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, want) {
			t.Errorf("%s: log files %q, want %q", name, names, want)
		}
		r := mustStrata(t, root, "logs", name)
		nums = lineNumbers(t, r.Stdout)
		if len(nums) < 30 || len(nums) > 80 || nums[len(nums)-1] != lines-1 {
			t.Errorf("%s: logs printed %d lines ending with line%d; 3 files of 2k keep 30 to 75, the last line%d", name, len(nums), nums[len(nums)-1], lines-1)
		}
		for i := range nums {
			if nums[i] != nums[0]+i {
				t.Fatalf("%s: logs printed %v, want consecutive lines", name, nums)
			}
		}
		if r := mustStrata(t, root, "logs", "--tail", "40", name); r.Stdout != tailLines(lines-40, lines) {
			t.Errorf("%s: logs --tail 40 printed %q", name, r.Stdout)
		}
		r = mustStrata(t, root, "inspect", "-f", "{{json .HostConfig.LogConfig}}", name)
		wantConfig := `{"Type":"json-file","Config":{"max-file":"3","max-size":"2k"}}`
		if compress {
			wantConfig = `{"Type":"json-file","Config":{"compress":"true","max-file":"3","max-size":"2k"}}`
		}
		if strings.TrimSpace(r.Stdout) != wantConfig {
			t.Errorf("%s: inspect HostConfig.LogConfig = %s, want %s", name, r.Stdout, wantConfig)
		}
	}

	// start of the stopped container keeps its options: still three files within 2k, and
	// the last run's lines at the end.
	mustStrata(t, root, "start", "-a", "rot-false")
	for n, size := range logFilesOf(t, root, "rot-false") {
		if size > 2000 || (n != "log.json" && n != "log.json.1" && n != "log.json.2") {
			t.Errorf("after start: %s of %d bytes", n, size)
		}
	}

	// A restart policy's runs keep the options too: three runs' lines, in 2k files.
	id := detached(t, root, "--name", "again", "--restart", "on-failure:2", "--log-opt", "max-size=2k", "--log-opt", "max-file=2",
		"alpine", "sh", "-c", `i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done; exit 3`)
	waitInspect(t, root, id, "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", "exited 3 2", 30*time.Second)
	if files := logFilesOf(t, root, id); len(files) != 2 || files["log.json"] > 2000 || files["log.json.1"] > 2000 {
		t.Errorf("restarted: log files %v, want log.json and log.json.1 within 2k", files)
	}
	if r := mustStrata(t, root, "logs", "--tail", "2", "again"); r.Stdout != tailLines(98, 100) {
		t.Errorf("restarted: logs --tail 2 printed %q", r.Stdout)
	}

	// A foreground run's log (not --rm) is rotated as well.
	mustStrata(t, root, "run", "--name", "fg", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "alpine", "sh", "-c", printing)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "fg") })
	if files := logFilesOf(t, root, "fg"); len(files) != 2 || files["log.json"] > 1000 || files["log.json.1"] > 1000 {
		t.Errorf("foreground run: log files %v, want log.json and log.json.1 within 1k", files)
	}
	if r := mustStrata(t, root, "logs", "--tail", "3", "fg"); r.Stdout != tailLines(lines-3, lines) {
		t.Errorf("foreground run: logs --tail 3 printed %q", r.Stdout)
	}

	// none: no log kept, and logs says so.
	id = detached(t, root, "--name", "quiet", "--log-driver", "none", "alpine", "echo", "hi")
	mustStrata(t, root, "wait", id)
	if files := logFilesOf(t, root, id); len(files) != 0 {
		t.Errorf("--log-driver none: log files %v, want none", files)
	}
	if r := strata(t, root, "logs", "quiet"); r.Code != 1 || r.Stdout != "" ||
		r.Stderr != "strata: configured logging driver does not support reading\n" {
		t.Errorf("logs of a --log-driver none container = exit %d, %q / %q; want docker's error, exit 1", r.Code, r.Stdout, r.Stderr)
	}
	if r := mustStrata(t, root, "inspect", "-f", "{{json .HostConfig.LogConfig}} {{.LogPath}}", "quiet"); r.Stdout != `{"Type":"none","Config":{}} `+"\n" {
		t.Errorf("inspect of a --log-driver none container: %q", r.Stdout)
	}

	// local: json-file bounded as docker's local, its file kept out of inspect as docker's.
	id = detached(t, root, "--name", "loc", "--log-driver", "local", "--log-opt", "max-size=2k", "alpine", "sh", "-c", printing)
	mustStrata(t, root, "wait", id)
	if r := mustStrata(t, root, "logs", "--tail", "5", "loc"); r.Stdout != tailLines(lines-5, lines) {
		t.Errorf("local: logs --tail 5 printed %q", r.Stdout)
	}
	if r := mustStrata(t, root, "inspect", "-f", "{{json .HostConfig.LogConfig}} {{.LogPath}}", "loc"); r.Stdout != `{"Type":"local","Config":{"max-size":"2k"}} `+"\n" {
		t.Errorf("inspect of a local container: %q", r.Stdout)
	}
	cdir := filepath.Join(root, "containers", id)
	for _, n := range []string{"log.json", "log.json.1.gz", "log.json.4.gz"} {
		if _, err := os.Stat(filepath.Join(cdir, n)); err != nil {
			t.Errorf("local: %v; want 5 files, the rotated ones gzipped", err)
		}
	}
	if _, err := os.Stat(filepath.Join(cdir, "log.json.5.gz")); err == nil {
		t.Errorf("local: log.json.5.gz kept, past local's 5 files")
	}

	// Attributes from labels, env and tag, which logs --details shows.
	id = detached(t, root, "--name", "attrs", "--label", "app=shop", "-e", "MODE=prod", "--log-opt", "labels=app",
		"--log-opt", "env=MODE", "--log-opt", "tag={{.Name}}", "alpine", "echo", "hi")
	mustStrata(t, root, "wait", id)
	if r := mustStrata(t, root, "logs", "--details", "attrs"); r.Stdout != "MODE=prod,app=shop,tag=attrs hi\n" {
		t.Errorf("logs --details = %q, want the attributes before the line", r.Stdout)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-driver", "syslog"}, "strata: logger: no log driver named 'syslog' is registered\n"},
		{[]string{"--log-opt", "max-sise=1k"}, "strata: unknown log opt 'max-sise' for json-file log driver\n"},
		{[]string{"--log-opt", "max-size=0"}, "strata: max-size must be a positive number\n"},
		{[]string{"--log-driver", "none", "--log-opt", "max-size=1k"}, "strata: invalid logging opts for driver none\n"},
	} {
		for _, cmd := range []string{"run", "create"} {
			args := append(append([]string{cmd, "--name", "bad"}, tt.args...), "alpine", "true")
			if r := strata(t, root, args...); r.Code != 125 || r.Stderr != tt.want {
				t.Errorf("strata %q = exit %d, %q; want exit 125, %q", args, r.Code, r.Stderr, tt.want)
			}
		}
	}
	if r := strata(t, root, "ps", "-a", "--filter", "name=bad", "-q"); r.Stdout != "" {
		t.Errorf("a refused run or create left a container: %q", r.Stdout)
	}
}

// tailLines is "line<i>\n" for i in [from, to).
func tailLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line%d\n", i)
	}
	return b.String()
}
