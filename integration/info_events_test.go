package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInfo: docker info's layout and fields, and --format over docker's field names.
func TestInfo(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "inf-run") })
	mustStrata(t, root, "run", "-d", "--name", "inf-run", "alpine", "sleep", "600")
	mustStrata(t, root, "create", "--name", "inf-made", "alpine", "true")
	out := mustStrata(t, root, "info").Stdout
	for _, want := range []string{"Client:\n Version:", "\nServer:\n Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 1\n Images: 2\n",
		" Storage Driver: overlay\n  Backing Filesystem: ", "  Supports d_type: true\n", " Logging Driver: json-file\n",
		" Cgroup Driver: cgroupfs\n", " Cgroup Version: ", " Kernel Version: ", " Operating System: ", " OSType: linux\n",
		" Architecture: ", " CPUs: ", " Total Memory: ", " Name: ", " Docker Root Dir: " + root + "\n", "  seccomp\n   Profile: builtin\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unknown") {
		t.Errorf("info on this host says unknown:\n%s", out)
	}
	got := mustStrata(t, root, "system", "info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Images}} {{.Driver}} {{.OSType}}").Stdout
	if got != "2 1 2 overlay linux\n" {
		t.Errorf("info --format = %q, want %q", got, "2 1 2 overlay linux\n")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(mustStrata(t, root, "info", "-f", "{{json .}}").Stdout), &doc); err != nil {
		t.Fatalf("info -f '{{json .}}': %v", err)
	}
	for _, k := range []string{"Containers", "Driver", "CgroupVersion", "KernelVersion", "NCPU", "MemTotal", "RegistryConfig", "SecurityOptions", "ClientInfo"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("info's JSON lacks %s: %v", k, doc)
		}
	}
	if v := doc["CgroupVersion"]; v != "1" && v != "2" {
		t.Errorf("CgroupVersion = %v, want 1 or 2", v)
	}
	// Mirrors and insecure registries from the flags and registries.json.
	if err := os.WriteFile(filepath.Join(root, "registries.json"), []byte(`{"registries":{"reg.example:5000":{"insecure":true,"mirrors":["http://127.0.0.1:9"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out = mustStrata(t, root, "--registry-mirror", "https://mirror.example", "--insecure-registry", "other.example", "info").Stdout
	for _, want := range []string{" Insecure Registries:\n  127.0.0.0/8\n", "  other.example\n", "  reg.example:5000\n", " Registry Mirrors:\n  https://mirror.example\n  http://127.0.0.1:9 (for reg.example:5000)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	// A fresh root: nothing is made, and info still answers.
	fresh := filepath.Join(t.TempDir(), "none")
	if r := strata(t, fresh, "info", "-f", "{{.Containers}} {{.Images}}"); r.Code != 0 || r.Stdout != "0 0\n" {
		t.Errorf("info on a missing root = %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if _, err := os.Lstat(fresh); err == nil {
		t.Errorf("info made the root %s", fresh)
	}
}

// TestSystemPrune: docker's prompt (answered from stdin, as docker reads it), then exactly
// what docker's removes: stopped containers, dangling images (-a: unused ones), never a
// running container or an image a container uses.
func TestSystemPrune(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "sp-run") })
	mustStrata(t, root, "run", "-d", "--name", "sp-run", "alpine", "sleep", "600")
	stopped := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--name", "sp-stopped", "busybox:1.38.0-musl", "true").Stdout)
	mustStrata(t, root, "wait", "sp-stopped")

	// No: nothing is removed.
	r := strataStdin(t, root, strings.NewReader("n\n"), nil, "system", "prune")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "WARNING! This will remove:\n  - all stopped containers\n") ||
		!strings.HasSuffix(r.Stdout, "Are you sure you want to continue? [y/N] ") {
		t.Errorf("system prune answered n = %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if ps := mustStrata(t, root, "ps", "-aq").Stdout; strings.Count(ps, "\n") != 2 {
		t.Fatalf("after a no, ps -aq = %q", ps)
	}
	// Yes, without -a: the stopped container goes; busybox is no dangling image and stays.
	r = strataStdin(t, root, strings.NewReader("y\n"), nil, "system", "prune")
	if r.Code != 0 || !strings.Contains(r.Stdout, "[y/N] Deleted Containers:\n"+stopped+"\n\nTotal reclaimed space: ") {
		t.Errorf("system prune answered y = %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if ps := mustStrata(t, root, "ps", "-aq").Stdout; strings.Count(ps, "\n") != 1 {
		t.Errorf("after system prune, ps -aq = %q, want the running one", ps)
	}
	if imgs := mustStrata(t, root, "images", "-q").Stdout; strings.Count(imgs, "\n") != 3 {
		t.Errorf("system prune without -a removed images: %q", imgs)
	}
	// -af: busybox goes (no container uses it), alpine stays (sp-run uses it).
	r = mustStrata(t, root, "system", "prune", "-af")
	if !regexp.MustCompile(`^Deleted Images:\nuntagged: busybox:1.38.0-musl\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: \S+\n$`).MatchString(r.Stdout) {
		t.Errorf("system prune -af = %q", r.Stdout)
	}
	if imgs := mustStrata(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}").Stdout; imgs != "alpine:3.20.3\nalpine:latest\n" && imgs != "alpine:latest\nalpine:3.20.3\n" {
		t.Errorf("after system prune -af, images = %q", imgs)
	}
	if r := mustStrata(t, root, "system", "prune", "-f"); r.Stdout != "Total reclaimed space: 0B\n" {
		t.Errorf("system prune with nothing to remove = %q", r.Stdout)
	}
}

// TestEvents: the events of run -d, stop, rm and of tag, rmi, in order, with docker's line
// format, filters, --since and --until; follow mode shows new ones and ends on SIGINT.
func TestEvents(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	start := time.Now()
	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--name", "ev", "alpine", "sleep", "600").Stdout)
	mustStrata(t, root, "stop", "-t", "1", "ev")
	mustStrata(t, root, "rm", "ev")
	mustStrata(t, root, "tag", "alpine", "ev/img:1")
	mustStrata(t, root, "rmi", "ev/img:1")
	out := mustStrata(t, root, "events", "--since", start.Format(time.RFC3339Nano), "--until", "0s", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}").Stdout
	// stop's signals are kill events, as docker's: SIGTERM, then SIGKILL after -t (sleep as
	// PID 1 ignores SIGTERM). The SIGKILL's may come after the die the monitor logs.
	if kills := mustStrata(t, root, "events", "--since", start.Format(time.RFC3339Nano), "--until", "0s", "--filter", "event=kill", "--format", "{{.Actor.Attributes.signal}}").Stdout; kills != "15\n9\n" {
		t.Errorf("stop's kill events = %q, want signals 15 and 9", kills)
	}
	out = regexp.MustCompile(`(?m)^container kill ev\n`).ReplaceAllString(out, "")
	want := "container create ev\ncontainer start ev\ncontainer die ev\ncontainer stop ev\ncontainer destroy ev\nimage tag ev/img:1\nimage untag sha256:"
	if !strings.HasPrefix(out, want) {
		t.Errorf("events = %q, want it to start %q", out, want)
	}
	line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container die ` + id + ` \(exitCode=137, image=alpine, name=ev\)$`)
	all := mustStrata(t, root, "events", "--since", "10m", "--until", "0s").Stdout
	if !line.MatchString(all) {
		t.Errorf("events lacks docker's die line for %s:\n%s", id, all)
	}
	if strings.Contains(all, "image load") == false {
		t.Errorf("events lacks the load of the test images:\n%s", all)
	}
	filtered := mustStrata(t, root, "events", "--since", "10m", "--until", "0s", "--filter", "container=ev", "--filter", "event=die", "--filter", "event=destroy", "--format", "{{.Action}}").Stdout
	if filtered != "die\ndestroy\n" {
		t.Errorf("events --filter container=ev event=die,destroy = %q", filtered)
	}
	if got := mustStrata(t, root, "events", "--since", "10m", "--until", "0s", "-f", "type=image", "-f", "image=ev/img", "--format", "{{.Action}}").Stdout; got != "tag\n" {
		t.Errorf("events -f type=image -f image=ev/img = %q, want tag", got)
	}
	// --until before everything: nothing; --since in the future with --until: nothing.
	if got := mustStrata(t, root, "events", "--since", "0", "--until", start.Add(-time.Hour).Format(time.RFC3339)).Stdout; got != "" {
		t.Errorf("events --until an hour ago = %q", got)
	}

	// exec: docker's exec_create, exec_start and exec_die (with the exit code).
	mustStrata(t, root, "run", "-d", "--name", "evx", "alpine", "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "evx") })
	strata(t, root, "exec", "evx", "sh", "-c", "exit 3")
	// A command without arguments: docker's action ends in a space ("exec_create: " + the
	// entrypoint + " " + the arguments joined, moby daemon/exec.go).
	mustStrata(t, root, "exec", "evx", "true")
	if got := mustStrata(t, root, "events", "--since", start.Format(time.RFC3339Nano), "--until", "0s", "-f", "container=evx", "-f", "event=exec_create", "-f", "event=exec_start", "-f", "event=exec_die",
		"--format", "{{.Action}} {{.Actor.Attributes.exitCode}}").Stdout; got != "exec_create: sh -c exit 3 <no value>\nexec_start: sh -c exit 3 <no value>\nexec_die 3\n"+
		"exec_create: true  <no value>\nexec_start: true  <no value>\nexec_die 0\n" {
		t.Errorf("exec events = %q", got)
	}

	// Follow: without --since only what comes, until SIGINT.
	f := startStrata(t, root, "events", "--format", "{{.Action}} {{.Actor.Attributes.name}}", "--filter", "type=container")
	// Following once it shows a container made after it started: a sleep of 300 ms was too
	// short on a busy machine, and a follower not yet started missed create evf.
	for i := 0; ; i++ {
		name := fmt.Sprintf("evw%d", i)
		mustStrata(t, root, "create", "--name", name, "alpine", "true")
		t.Cleanup(func() { strata(t, root, "rm", "-f", name) })
		if f.sawWithin(f.out, "create "+name, time.Second) {
			break
		}
		if i == 30 {
			t.Fatalf("events -f showed none of 30 creates; it showed %q", f.seen)
		}
	}
	mustStrata(t, root, "run", "--rm", "--name", "evf", "alpine", "true")
	for _, w := range []string{"create evf", "start evf", "die evf", "destroy evf"} {
		f.next(f.out, w)
	}
	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { code, _ := f.wait(); done <- code }()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("events ended by SIGINT with %d, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("events did not end on SIGINT")
	}
	if strings.Contains(strings.Join(f.seen, "\n"), " ev\n") {
		t.Errorf("events without --since showed past events: %q", f.seen)
	}
}

// TestEventsPull: pull and push are image events, named as docker names them.
func TestEventsPull(t *testing.T) {
	reg := startRegistry(t)
	root := newRoot(t)
	ref := reg.Host + "/library/alpine:3.20.3"
	mustStrata(t, root, "pull", "-q", ref)
	out := mustStrata(t, root, "events", "--since", "1h", "--until", "0s", "--filter", "event=pull").Stdout
	if !strings.Contains(out, " image pull "+ref+" (name="+reg.Host+"/library/alpine)\n") {
		t.Errorf("events after a pull = %q", out)
	}
}

// TestEventsHostileLog: an events.log that is a symlink, a FIFO, a huge line or garbage hangs
// and crashes nothing: commands still work (their events are lost), events skips bad lines
// and skips what is no regular file with a one-line warning.
func TestEventsHostileLog(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	log := filepath.Join(root, "events.log")
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		make func() error
	}{
		{"symlink", func() error { return os.Symlink(target, log) }},
		{"fifo", func() error { return syscall.Mkfifo(log, 0o600) }},
		{"directory", func() error { return os.Mkdir(log, 0o700) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.RemoveAll(log)
			if err := c.make(); err != nil {
				t.Fatal(err)
			}
			mustStrata(t, root, "run", "--rm", "alpine", "true")
			r := strata(t, root, "events", "--since", "1h", "--until", "0s")
			// Skipped with one warning, as a damaged rotated log is: no events to show, no error.
			if r.Code != 0 || !strings.Contains(r.Stderr, "warning: ") || !strings.Contains(r.Stderr, "events.log:") || strings.Count(r.Stderr, "\n") != 1 {
				t.Errorf("events over a %s = %d %q %q; want 0 and one warning", c.name, r.Code, r.Stdout, r.Stderr)
			}
			if b, _ := os.ReadFile(target); len(b) != 0 {
				t.Errorf("an event went through the symlink: %q", b)
			}
		})
	}
	os.RemoveAll(log)
	// Garbage, a line past the bound, a torn line: skipped; the good lines around them show.
	now := time.Now().UnixNano()
	good := func(name string) string {
		return `{"Type":"container","Action":"start","Actor":{"ID":"x","Attributes":{"name":"` + name + `"}},"time":1,"timeNano":` + strconv.FormatInt(now, 10) + "}\n"
	}
	data := good("a") + "not json\n" + `{"Type":1}` + "\n" + strings.Repeat("x", 1<<20) + "\n" + good("b") + "\x00\xff\n" + good("c") + `{"Type":"container","Act`
	if err := os.WriteFile(log, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	r := strata(t, root, "events", "--since", "1h", "--until", "0s", "--format", "{{.Actor.Attributes.name}}")
	if r.Code != 0 || r.Stdout != "a\nb\nc\n" {
		t.Errorf("events over garbage = %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	// A write after the torn line still reads as its own event next time.
	mustStrata(t, root, "run", "--rm", "--name", "after", "alpine", "true")
	if out := mustStrata(t, root, "events", "--since", "1h", "--until", "0s", "--filter", "container=after", "--format", "{{.Action}}").Stdout; !strings.Contains(out, "create\n") {
		t.Errorf("events after a torn line = %q", out)
	}
}
