package integration

import (
	"slices"
	"strings"
	"testing"
)

// TestGroupAdd runs --group-add as docker's: a name from the container's /etc/group or a
// number joins the process's supplementary groups, with -u too, and those of the processes
// exec runs (docker's getUser adds HostConfig.GroupAdd to every user); an unknown name or a
// number past 2^31-1 fails the start with runc's words and 125. create keeps them for start,
// and inspect shows them as given.
func TestGroupAdd(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	// alpine 3.20's root is in 0 1 2 3 4 6 10 11 20 26 27; audio is 18, video 27.
	rootGroups := []string{"0", "1", "2", "3", "4", "6", "10", "11", "20", "26", "27"}
	groups := func(what string, r result) []string {
		t.Helper()
		if r.Code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", what, r.Code, r.Stderr)
		}
		g := strings.Fields(r.Stdout)
		slices.Sort(g)
		return g
	}
	sorted := func(g ...string) []string { slices.Sort(g); return g }

	r := strata(t, root, "run", "--rm", "--group-add", "audio", "--group-add", "4242", "--group-add", "wheel", "alpine", "id")
	if want := "uid=0(root) gid=0(root) groups=0(root),1(bin),2(daemon),3(sys),4(adm),6(disk),10(wheel),11(floppy),18(audio),20(dialout),26(tape),27(video),4242\n"; r.Code != 0 || r.Stdout != want {
		t.Errorf("run --group-add audio --group-add 4242 --group-add wheel: exit %d, stdout %q, stderr %q; want %q", r.Code, r.Stdout, r.Stderr, want)
	}
	got := groups("run -u 1000:1000 --group-add video --group-add +5", strata(t, root, "run", "--rm", "-u", "1000:1000", "--group-add", "video", "--group-add", "+5", "alpine", "id", "-G"))
	if want := sorted("1000", "27", "5"); !slices.Equal(got, want) {
		t.Errorf("run -u 1000:1000 --group-add video --group-add +5: groups %q, want %q", got, want)
	}
	got = groups("run --group-add 2147483647", strata(t, root, "run", "--rm", "--group-add", "2147483647", "alpine", "id", "-G"))
	if want := sorted(append(slices.Clone(rootGroups), "2147483647")...); !slices.Equal(got, want) {
		t.Errorf("run --group-add 2147483647: groups %q, want %q", got, want)
	}

	for _, tt := range []struct{ group, want string }{
		{"nosuchgroup", "unable to find group nosuchgroup: no matching entries in group file"},
		{"2147483648", "unable to find group 2147483648: uids and gids must be in range 0-2147483647"},
		{"-1", "unable to find group -1: uids and gids must be in range 0-2147483647"},
	} {
		checkRefused(t, "run --group-add "+tt.group, strata(t, root, "run", "--rm", "--group-add", tt.group, "alpine", "true"), 125, tt.want)
	}

	// create keeps them, start applies them, exec's processes get them, inspect shows them.
	id := strings.TrimSpace(mustStrata(t, root, "create", "--group-add", "audio", "--group-add", "4242", "alpine", "sleep", "600").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	if r := mustStrata(t, root, "inspect", "--format", "{{json .HostConfig.GroupAdd}}", id); r.Stdout != "[\"audio\",\"4242\"]\n" {
		t.Errorf("inspect HostConfig.GroupAdd = %q, want [\"audio\",\"4242\"]", r.Stdout)
	}
	mustStrata(t, root, "start", id)
	got = groups("exec id -G", strata(t, root, "exec", id, "id", "-G"))
	if want := sorted(append(slices.Clone(rootGroups), "18", "4242")...); !slices.Equal(got, want) {
		t.Errorf("exec into a --group-add container: groups %q, want %q", got, want)
	}
	got = groups("exec -u 1000 id -G", strata(t, root, "exec", "-u", "1000", id, "id", "-G"))
	if want := sorted("0", "18", "4242"); !slices.Equal(got, want) {
		t.Errorf("exec -u 1000 into a --group-add container: groups %q, want %q", got, want)
	}

	plain := strings.TrimSpace(mustStrata(t, root, "create", "alpine", "true").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", plain) })
	if r := mustStrata(t, root, "inspect", "--format", "{{json .HostConfig.GroupAdd}}", plain); r.Stdout != "null\n" {
		t.Errorf("inspect HostConfig.GroupAdd without --group-add = %q, want null", r.Stdout)
	}
}

// TestShmSize runs --shm-size as docker's: the size of the container's /dev/shm in docker's
// units, 64m when unset or 0, kept by create for start and shown by inspect in bytes; a bad
// value is refused in one line with 125 before anything is made.
func TestShmSize(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	shmKiB := func(what string, r result) string {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if r.Code != 0 || len(lines) != 2 {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", what, r.Code, r.Stdout, r.Stderr)
		}
		return strings.Fields(lines[1])[1] // Filesystem 1K-blocks ...
	}
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{nil, "65536"},
		{[]string{"--shm-size", "0"}, "65536"},
		{[]string{"--shm-size", "1m"}, "1024"},
		{[]string{"--shm-size", "3145728"}, "3072"},
		{[]string{"--shm-size", "1g"}, "1048576"},
	} {
		args := append(append([]string{"run", "--rm"}, tt.flags...), "alpine", "df", "-k", "/dev/shm")
		if got := shmKiB(strings.Join(args, " "), strata(t, root, args...)); got != tt.want {
			t.Errorf("run %q: /dev/shm of %s KiB, want %s", tt.flags, got, tt.want)
		}
	}

	id := strings.TrimSpace(mustStrata(t, root, "create", "--shm-size", "2m", "alpine", "df", "-k", "/dev/shm").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	if r := mustStrata(t, root, "inspect", "--format", "{{.HostConfig.ShmSize}}", id); r.Stdout != "2097152\n" {
		t.Errorf("inspect HostConfig.ShmSize = %q, want 2097152", r.Stdout)
	}
	mustStrata(t, root, "start", id)
	mustStrata(t, root, "wait", id)
	if got := shmKiB("logs of a started --shm-size 2m container", mustStrata(t, root, "logs", id)); got != "2048" {
		t.Errorf("create --shm-size 2m, start: /dev/shm of %s KiB, want 2048", got)
	}
	plain := strings.TrimSpace(mustStrata(t, root, "create", "alpine", "true").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", plain) })
	if r := mustStrata(t, root, "inspect", "--format", "{{.HostConfig.ShmSize}}", plain); r.Stdout != "67108864\n" {
		t.Errorf("inspect HostConfig.ShmSize without --shm-size = %q, want 67108864", r.Stdout)
	}

	before := mustStrata(t, root, "ps", "-aq").Stdout
	for _, bad := range []string{"abc", "-1", "1x", "99999999999g", ""} {
		for _, cmd := range []string{"run", "create"} {
			checkRefused(t, cmd+" --shm-size "+bad, strata(t, root, cmd, "--shm-size="+bad, "alpine", "true"), 125, "invalid --shm-size value")
		}
	}
	if after := mustStrata(t, root, "ps", "-aq").Stdout; after != before {
		t.Errorf("a refused --shm-size left containers: ps -aq %q, was %q", after, before)
	}
}
