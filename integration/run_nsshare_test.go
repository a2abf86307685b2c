package integration

import (
	"archive/tar"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nsLinks is a shell loop that prints the container's /proc/self/ns link of each kind, one a
// line (busybox's readlink takes one file).
func nsLinks(kinds ...string) string {
	return "for n in " + strings.Join(kinds, " ") + "; do readlink /proc/self/ns/$n; done"
}

// hostNS reads this process's namespace link of each kind.
func hostNS(t *testing.T, kinds ...string) []string {
	t.Helper()
	var out []string
	for _, k := range kinds {
		l, err := os.Readlink("/proc/self/ns/" + k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// TestRunNamespaceSharingHost: docker's --pid host, --ipc host and --uts host. The
// container's namespace links are the host's, its host name and /etc/hostname the host's,
// and it sees the host's processes (this test's own among them); the host's /dev/shm is
// its /dev/shm. Without them each namespace is its own.
func TestRunNamespaceSharingHost(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	kinds := []string{"pid", "ipc", "uts"}
	host := hostNS(t, kinds...)
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp("/dev/shm", "strata-nsshare-")
	if err != nil {
		t.Skipf("no host /dev/shm to share: %v", err)
	}
	f.Close()
	t.Cleanup(func() { os.Remove(f.Name()) })

	script := nsLinks(kinds...) + "; hostname; cat /etc/hostname; ls /dev/shm; ps -o pid | grep -cx ' *" + strconv.Itoa(os.Getpid()) + "'"
	r := mustStrata(t, root, "run", "--rm", "--pid", "host", "--ipc", "host", "--uts", "host", img, "sh", "-c", script)
	lines := strings.Split(r.Stdout, "\n")
	if len(lines) < 6 {
		t.Fatalf("printed %q", r.Stdout)
	}
	for i, k := range kinds {
		if lines[i] != host[i] {
			t.Errorf("--%s host: namespace %s, want the host's %s", k, lines[i], host[i])
		}
	}
	if lines[3] != hostname || lines[4] != hostname {
		t.Errorf("--uts host: hostname %q, /etc/hostname %q, want the host's %q", lines[3], lines[4], hostname)
	}
	if !strings.Contains(r.Stdout, strings.TrimPrefix(f.Name(), "/dev/shm/")) {
		t.Errorf("--ipc host: the host's /dev/shm file %s is not in the container's: %q", f.Name(), r.Stdout)
	}
	if !strings.HasSuffix(strings.TrimSpace(r.Stdout), "\n1") {
		t.Errorf("--pid host: the container's ps does not list this test's pid %d: %q", os.Getpid(), r.Stdout)
	}

	t.Cleanup(func() { strata(t, root, "rm", "-f", "nss-hostpid") })
	mustStrata(t, root, "run", "-d", "--name", "nss-hostpid", "--pid", "host", img, "sleep", "600")
	if top := mustStrata(t, root, "top", "nss-hostpid").Stdout; strings.Count(top, "\n") != 2 || !strings.Contains(top, "sleep 600") {
		t.Errorf("top of a --pid host container: %q, want its one process, not the host's", top)
	}

	r = mustStrata(t, root, "run", "--rm", img, "sh", "-c", nsLinks(kinds...))
	for i, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if i < len(host) && l == host[i] {
			t.Errorf("by default, the %s namespace is the host's %s", kinds[i], l)
		}
	}
}

// TestRunNamespaceSharingContainer: docker's --pid, --ipc and --network container:X. The
// joiner's namespace links are those of X's processes; its ps lists X's command and it is not
// PID 1; it shares X's /dev/shm (X made --ipc shareable), and X's host name. With --ipc none
// the container has an IPC namespace of its own and no /dev/shm. inspect shows the modes with
// X's full ID, as recorded at create; a created joiner starts, stops and is removed as any.
// Removing X while a network joiner runs leaves the joiner running in X's network namespace,
// as docker's does; a pid joiner dies with X's pid namespace.
func TestRunNamespaceSharingContainer(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	kinds := []string{"pid", "ipc", "net"}
	t.Cleanup(func() { strata(t, root, "rm", "-f", "nss-target", "nss-joiner", "nss-netjoiner") })
	targetID := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--name", "nss-target", "--ipc", "shareable", img, "sleep", "600").Stdout)
	target := mustStrata(t, root, "exec", "nss-target", "sh", "-c", nsLinks(kinds...)+"; hostname; echo shared > /dev/shm/mark").Stdout

	script := nsLinks(kinds...) + "; hostname; cat /dev/shm/mark; echo $$; ps -o comm | grep -cx sleep"
	r := mustStrata(t, root, "run", "--rm", "--pid", "container:nss-target", "--ipc", "container:nss-target",
		"--network", "container:"+targetID[:12], img, "sh", "-c", script)
	got := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	want := strings.Split(strings.TrimSpace(target), "\n")
	if len(got) != 7 || len(want) != 4 {
		t.Fatalf("joiner printed %q, target %q", r.Stdout, target)
	}
	for i, k := range kinds {
		if got[i] != want[i] {
			t.Errorf("--%s container: namespace %s, want the target's %s", k, got[i], want[i])
		}
	}
	if got[3] != want[3] {
		t.Errorf("--network container: hostname %q, want the target's %q", got[3], want[3])
	}
	if got[4] != "shared" {
		t.Errorf("--ipc container: /dev/shm/mark reads %q, want the target's %q", got[4], "shared")
	}
	if got[5] == "1" || got[6] != "1" {
		t.Errorf("--pid container: the shell is PID %s and ps counts %s sleep; want not PID 1, and the target's sleep listed", got[5], got[6])
	}

	// --ipc none: a namespace of its own, without /dev/shm.
	r = mustStrata(t, root, "run", "--rm", "--ipc", "none", img, "sh", "-c", "readlink /proc/self/ns/ipc; test -e /dev/shm && echo present || echo absent")
	if out := strings.Fields(r.Stdout); len(out) != 2 || out[0] == hostNS(t, "ipc")[0] || out[0] == want[1] || out[1] != "absent" {
		t.Errorf("--ipc none: printed %q, want an IPC namespace of its own and no /dev/shm", r.Stdout)
	}

	mustStrata(t, root, "create", "--name", "nss-joiner", "--pid", "container:nss-target", "--ipc", "container:nss-target", img, "sleep", "600")
	modes := mustStrata(t, root, "inspect", "-f", "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}|{{.HostConfig.NetworkMode}}", "nss-joiner", "nss-target").Stdout
	wantModes := "container:" + targetID + " container:" + targetID + " |none\n shareable |none\n"
	if modes != wantModes {
		t.Errorf("inspect: modes %q, want %q", modes, wantModes)
	}
	mustStrata(t, root, "start", "nss-joiner")
	if ps := mustStrata(t, root, "ps", "--format", "{{.Names}}").Stdout; !strings.Contains(ps, "nss-joiner") {
		t.Errorf("ps does not list the started joiner: %q", ps)
	}
	if r := mustStrata(t, root, "exec", "nss-joiner", "readlink", "/proc/self/ns/pid"); strings.TrimSpace(r.Stdout) != want[0] {
		t.Errorf("exec in the joiner: pid namespace %s, want the target's %s", r.Stdout, want[0])
	}
	// top lists each container's own processes, as docker's lists its cgroup's, not all
	// of the pid namespace they share.
	for _, name := range []string{"nss-joiner", "nss-target"} {
		if top := mustStrata(t, root, "top", name).Stdout; strings.Count(top, "\n") != 2 {
			t.Errorf("top %s: %q, want its one process", name, top)
		}
	}
	mustStrata(t, root, "stop", "-t", "1", "nss-joiner")
	if st := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", "nss-target").Stdout; st != "running\n" {
		t.Errorf("stopping the joiner left the target %q", st)
	}
	mustStrata(t, root, "rm", "nss-joiner")

	// The target goes while joiners run: the network joiner keeps the namespace, the pid
	// joiner's processes die with the target's pid namespace (the kernel kills them).
	mustStrata(t, root, "run", "-d", "--name", "nss-netjoiner", "--network", "container:nss-target", img, "sleep", "600")
	mustStrata(t, root, "run", "-d", "--name", "nss-joiner", "--pid", "container:nss-target", img, "sleep", "600")
	if h := mustStrata(t, root, "inspect", "-f", "{{.Config.Hostname}} {{json .NetworkSettings.Networks}}", "nss-netjoiner").Stdout; h != want[3]+" {}\n" {
		t.Errorf("inspect of the network joiner: hostname and networks %q, want the target's %q and {}", h, want[3])
	}
	if n := mustStrata(t, root, "ps", "--filter", "name=nss-netjoiner", "--format", "[{{.Networks}}]").Stdout; n != "[]\n" {
		t.Errorf("ps of the network joiner: networks %q, want none listed, as docker's", n)
	}
	mustStrata(t, root, "rm", "-f", "nss-target")
	if r := mustStrata(t, root, "exec", "nss-netjoiner", "readlink", "/proc/self/ns/net"); strings.TrimSpace(r.Stdout) != want[2] {
		t.Errorf("after the target's rm, the network joiner's namespace is %q, want the target's %s", r.Stdout, want[2])
	}
	mustStrata(t, root, "wait", "nss-joiner")
	// Its target gone, a joiner cannot start again: docker's not-found (start's status is 1,
	// as docker start's; run's would be 125).
	if r := strata(t, root, "start", "nss-joiner"); r.Code != 1 || !strings.Contains(r.Stderr, "no such container: "+targetID) {
		t.Errorf("start of a joiner whose target is gone: exit %d, %q; want 1 and no such container", r.Code, r.Stderr)
	}
}

// TestRunIpcDonorLink: an IPC donor that made its /dev/shm a link (to /proc/1/root/dev/shm,
// the host's with --pid host) is not followed by strata, which copies the donor's /dev/shm
// with every capability: the join fails, 125, rather than give the joiner what the link names.
func TestRunIpcDonorLink(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	t.Cleanup(func() { strata(t, root, "rm", "-f", "nss-linker") })
	mustStrata(t, root, "run", "-d", "--name", "nss-linker", "--ipc", "shareable", "--pid", "host", "--privileged", img,
		"sh", "-c", "umount /dev/shm && rmdir /dev/shm && ln -s /proc/1/root/dev/shm /dev/shm && touch /tmp/ready; sleep 600")
	for i := 0; strata(t, root, "exec", "nss-linker", "test", "-e", "/tmp/ready").Code != 0; i++ {
		if i > 100 {
			t.Fatal("the donor did not replace its /dev/shm")
		}
		time.Sleep(50 * time.Millisecond)
	}
	const want = "its /dev/shm is reached through a symlink, which strata does not follow to share it"
	r := strata(t, root, "run", "--rm", "--ipc", "container:nss-linker", img, "ls", "/dev/shm")
	if r.Code != 125 || !strings.Contains(r.Stderr, "cannot join IPC of container") || !strings.Contains(r.Stderr, want) {
		t.Errorf("join of a donor whose /dev/shm is a link: exit %d, stdout %q, stderr %q; want 125 and cannot join IPC", r.Code, r.Stdout, r.Stderr)
	}
	// So for a donor whose image made /dev a link, which it runs with (the link followed
	// inside its root), and could point elsewhere while it runs.
	const ref = "hostile/devlink:1"
	loadConfigImage(t, root, ref, []tar.Header{
		{Name: ".wh.dev", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "newdev/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "dev", Typeflag: tar.TypeSymlink, Linkname: "newdev", Mode: 0o777},
	}, nil, nil)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "nss-devlink") })
	mustStrata(t, root, "run", "-d", "--name", "nss-devlink", "--ipc", "shareable", ref, "sleep", "600")
	r = strata(t, root, "run", "--rm", "--ipc", "container:nss-devlink", img, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("join of a donor whose image's /dev is a link: exit %d, stderr %q; want 125 and %q", r.Code, r.Stderr, want)
	}
}
