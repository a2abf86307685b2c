package integration

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// hostDevice is the host's char device at p as "major:minor", or skips the test without it.
func hostDevice(t *testing.T, p string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Skipf("skipping: this host has no char device %s", p)
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
}

// TestRunDevice: --device makes the host's node at the container path with its numbers,
// mode and owner, and the device cgroup lets the container open it with the permissions
// given; a device not given stays refused (EPERM) even when its node is bound in with -v,
// which only the cgroup can stop. Each runs on the host's hierarchies (v1 devices.allow on
// a hybrid host) and in a pure cgroup v2 layout (the BPF program).
func TestRunDevice(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	lc := hostDevice(t, "/dev/loop-control")
	fuse := hostDevice(t, "/dev/fuse")
	for _, layout := range []struct {
		name string
		try  func(t *testing.T, root string, args ...string) result
	}{{"host", strata}, {"v2", v2Strata}} {
		t.Run(layout.name, func(t *testing.T) {
			if layout.name == "v2" {
				cgroup2Controllers(t) // skips without cgroup2
			}
			run := func(want string, args ...string) {
				t.Helper()
				r := layout.try(t, root, append([]string{"run", "--rm"}, args...)...)
				if r.Code != 0 || r.Stdout != want {
					t.Errorf("run %s: exit %d, printed %q, want %q (stderr %q)", strings.Join(args, " "), r.Code, r.Stdout, want, r.Stderr)
				}
			}
			// /dev/null under a name of its own: read and write work.
			run("1:3 666 0:0\nrw-ok\n", "--device", "/dev/null:/dev/mynull", "alpine", "sh", "-c",
				`printf '%d:%d ' 0x$(stat -c %t /dev/mynull) 0x$(stat -c %T /dev/mynull) && stat -c '%a %u:%g' /dev/mynull && echo hi >/dev/mynull && cat /dev/mynull && echo rw-ok`)
			// A char device at its own path, with its numbers and mode.
			run(lc+" 600\nopen-ok\n", "--device", "/dev/loop-control", "alpine", "sh", "-c",
				`printf '%d:%d ' 0x$(stat -c %t /dev/loop-control) 0x$(stat -c %T /dev/loop-control) && stat -c %a /dev/loop-control && true </dev/loop-control && echo open-ok`)
			// Read only: the cgroup refuses the write. And fuse, bound in but never given,
			// is refused (EPERM), whatever its node's mode.
			run("r-ok\nw: Operation not permitted\nfuse: Operation not permitted\n",
				"--device", "/dev/loop-control:/dev/lc:r", "-v", "/dev/fuse:/dev/fuse2", "alpine", "sh", "-c",
				`true </dev/lc && echo r-ok; (true >/dev/lc) 2>&1 | sed 's/.*: /w: /'; (true </dev/fuse2) 2>&1 | sed 's/.*: /fuse: /'`)
			// --device-cgroup-rule lets the bound node open.
			run("open-ok\n", "--device-cgroup-rule", "c "+strings.Split(fuse, ":")[0]+":* rw", "-v", "/dev/fuse:/dev/fuse2", "alpine", "sh", "-c",
				`true </dev/fuse2 && echo open-ok`)
		})
	}
}

// TestRunDeviceDirectory: a directory gives every device node under it, at the same place
// below the container path, each allowed, as docker's does.
func TestRunDeviceDirectory(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	hostDevice(t, "/dev/net/tun")
	r := mustStrata(t, root, "run", "--rm", "--device", "/dev/net:/dev/mynet", "alpine", "sh", "-c", `ls /dev/mynet | grep -x tun && true </dev/mynet/tun && echo open-ok`)
	if r.Stdout != "tun\nopen-ok\n" {
		t.Errorf("--device /dev/net:/dev/mynet printed %q, want tun there, allowed", r.Stdout)
	}
}

// TestRunDeviceInspect: inspect shows the flags as docker's HostConfig does, and their
// zero values without them.
func TestRunDeviceInspect(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "dev-inspect", "dev-plain") })
	mustStrata(t, root, "create", "--name", "dev-inspect", "--device", "/dev/null:/dev/mynull:rw", "--device-cgroup-rule", "c 42:* rmw",
		"--sysctl", "net.ipv4.ip_forward=1", "--oom-score-adj", "200", "alpine", "true")
	mustStrata(t, root, "create", "--name", "dev-plain", "alpine", "true")
	for _, tt := range []struct{ name, field, want string }{
		{"dev-inspect", "Devices", `[{"PathOnHost":"/dev/null","PathInContainer":"/dev/mynull","CgroupPermissions":"rw"}]`},
		{"dev-inspect", "DeviceCgroupRules", `["c 42:* rmw"]`},
		{"dev-inspect", "Sysctls", `{"net.ipv4.ip_forward":"1"}`},
		{"dev-inspect", "OomScoreAdj", `200`},
		{"dev-plain", "Devices", `[]`},
		{"dev-plain", "DeviceCgroupRules", `null`},
		{"dev-plain", "Sysctls", `null`},
		{"dev-plain", "OomScoreAdj", `0`},
	} {
		r := mustStrata(t, root, "inspect", "--format", "{{json .HostConfig."+tt.field+"}}", tt.name)
		if got := strings.TrimSpace(r.Stdout); got != tt.want {
			t.Errorf("inspect %s HostConfig.%s = %s, want %s", tt.name, tt.field, got, tt.want)
		}
	}
	// The created container starts with them.
	mustStrata(t, root, "start", "-a", "dev-inspect")
}

// TestRunSysctl: a --sysctl is set in the container's namespaces, not on the host: net.*
// ones in its network namespace (ip_forward set to the opposite of what a new namespace
// starts with here), IPC ones in its IPC namespace, kernel.domainname in its UTS namespace;
// and /proc/sys stays read-only for the command.
func TestRunSysctl(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Skipf("skipping: %v", err)
		}
		return string(b)
	}
	hostForward, hostTTL, hostShm := read("/proc/sys/net/ipv4/ip_forward"), read("/proc/sys/net/ipv4/ip_default_ttl"), read("/proc/sys/kernel/shmmax")
	hostDomain := read("/proc/sys/kernel/domainname")
	forward := "1"
	if r := mustStrata(t, root, "run", "--rm", "alpine", "cat", "/proc/sys/net/ipv4/ip_forward"); r.Stdout == "1\n" {
		forward = "0"
	}
	r := mustStrata(t, root, "run", "--rm", "--sysctl", "net.ipv4.ip_forward="+forward, "--sysctl", "net.ipv4.ip_default_ttl=42",
		"--sysctl", "kernel.shmmax=123456789", "--sysctl", "fs.mqueue.msg_max=20", "--sysctl", "kernel.domainname=example.org", "alpine", "sh", "-c",
		`cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_default_ttl /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max /proc/sys/kernel/domainname; (echo 0 >/proc/sys/net/ipv4/ip_forward) 2>/dev/null || echo ro`)
	if want := forward + "\n42\n123456789\n20\nexample.org\nro\n"; r.Stdout != want {
		t.Errorf("the container's sysctls read %q, want %q and a read-only /proc/sys", r.Stdout, want)
	}
	for p, was := range map[string]string{"/proc/sys/net/ipv4/ip_forward": hostForward, "/proc/sys/net/ipv4/ip_default_ttl": hostTTL, "/proc/sys/kernel/shmmax": hostShm, "/proc/sys/kernel/domainname": hostDomain} {
		if now := read(p); now != was {
			t.Errorf("the host's %s is %q after the container's sysctls, was %q", p, now, was)
		}
	}
}

// TestRunOomScoreAdj: --oom-score-adj is the command's score (and exec's, which takes PID
// 1's); a lowering the host's root may not make (it lacks CAP_SYS_RESOURCE) fails the start
// with a line that says why.
func TestRunOomScoreAdj(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	r := mustStrata(t, root, "run", "--rm", "--oom-score-adj", "500", "alpine", "cat", "/proc/self/oom_score_adj")
	if r.Stdout != "500\n" {
		t.Errorf("--oom-score-adj 500: the command's score is %q", r.Stdout)
	}
	t.Cleanup(func() { strata(t, root, "rm", "-f", "oom-exec") })
	mustStrata(t, root, "run", "-d", "--name", "oom-exec", "--oom-score-adj", "700", "alpine", "sleep", "600")
	if r := mustStrata(t, root, "exec", "oom-exec", "cat", "/proc/self/oom_score_adj"); r.Stdout != "700\n" {
		t.Errorf("exec in a container of --oom-score-adj 700: score %q", r.Stdout)
	}
	own, _ := os.ReadFile("/proc/self/oom_score_adj")
	r = strata(t, root, "run", "--rm", "--oom-score-adj", "-1000", "alpine", "cat", "/proc/self/oom_score_adj")
	switch {
	case r.Code == 0 && r.Stdout != "-1000\n":
		t.Errorf("--oom-score-adj -1000: the command's score is %q", r.Stdout)
	case r.Code != 0 && (r.Code != 125 || !strings.Contains(r.Stderr, "needs CAP_SYS_RESOURCE")):
		t.Errorf("--oom-score-adj -1000 below strata's own %s: exit %d, stderr %q; want 125 saying CAP_SYS_RESOURCE is needed", strings.TrimSpace(string(own)), r.Code, r.Stderr)
	}
}

// TestRunDeviceHostileImage: an image's symlinks may lead a --device's container path
// elsewhere inside the root, never out of it nor into /proc; its file there is replaced by the
// node, a run --rm refused leaves no container.
func TestRunDeviceHostileImage(t *testing.T) {
	requiresContainers(t)
	const ref = "hostile/device:1"
	root := newRoot(t)
	loadConfigImage(t, root, ref, []tar.Header{
		{Name: "data", Typeflag: tar.TypeSymlink, Linkname: "/proc/sys/kernel", Mode: 0o777},
		{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../tmp", Mode: 0o777},
		{Name: "opt/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "opt/file", Typeflag: tar.TypeReg, Mode: 0o644},
	}, map[string]string{"opt/file": "image's\n"}, nil)
	escaped := "strata-device-escape-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.Remove(filepath.Join("/tmp", escaped)) })

	r := strata(t, root, "run", "--rm", "--device", "/dev/null:/data/core_pattern", ref, "true")
	checkRefused(t, "a --device through a link into /proc", r, 125, "leads to /proc/sys/kernel")
	r = mustStrata(t, root, "run", "--rm", "--device", "/dev/null:/up/"+escaped, "--device", "/dev/zero:/opt/file", ref, "sh", "-c",
		"stat -c %F /tmp/"+escaped+" /opt/file && head -c3 /opt/file | od -An -tx1")
	if want := "character special file\ncharacter special file\n 00 00 00\n"; r.Stdout != want {
		t.Errorf("devices through the image's links printed %q, want %q", r.Stdout, want)
	}
	if _, err := os.Lstat(filepath.Join("/tmp", escaped)); err == nil {
		t.Errorf("a --device through the image's link made /tmp/%s on the host", escaped)
	}
	if r := mustStrata(t, root, "ps", "-aq"); r.Stdout != "" {
		t.Errorf("containers left after run --rm: %q", r.Stdout)
	}
}

// TestRunDeviceAtDevLinks: a --device at one of the standard /dev links (/dev/stdin,
// /dev/stdout, /dev/stderr, /dev/fd, /dev/core) is the user's device, and one beneath
// /dev/fd makes /dev/fd a dir holding it, as with docker (runc leaves what is there when it
// makes the links), where strata's link replaced the device, or failed on the dir
// ("directory not empty"). /dev/ptmx stays the link to the devpts's ptmx, as runc's, and
// a mount there is refused, as runc fails on it; a -v at /dev/stdout is the user's file.
// A device at a mount point (/dev/pts, /dev/shm, /dev/mqueue, a -v's, /etc/hosts) is not
// made, with a warning, as docker makes none there, and one inside the devpts is refused in
// words that say why.
func TestRunDeviceAtDevLinks(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	zero := hostDevice(t, "/dev/zero")
	want := func(n string) string { // stat -c %t:%T prints hex
		maj, min, _ := strings.Cut(n, ":")
		a, _ := strconv.Atoi(maj)
		b, _ := strconv.Atoi(min)
		return fmt.Sprintf("%x:%x", a, b)
	}(zero)
	for _, p := range []string{"/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/fd", "/dev/core", "/dev/fd/1"} {
		r := strata(t, root, "run", "--rm", "--device", "/dev/zero:"+p, "alpine", "stat", "-c", "%F %t:%T", p)
		if w := "character special file " + want + "\n"; r.Code != 0 || r.Stdout != w {
			t.Errorf("--device /dev/zero:%s: exit %d, printed %q, want %q (stderr %q)", p, r.Code, r.Stdout, w, r.Stderr)
		}
	}
	r := strata(t, root, "run", "--rm", "--device", "/dev/zero:/dev/ptmx", "alpine", "readlink", "/dev/ptmx")
	if r.Code != 0 || r.Stdout != "pts/ptmx\n" {
		t.Errorf("--device /dev/zero:/dev/ptmx: exit %d, printed %q, want the link to pts/ptmx (stderr %q)", r.Code, r.Stdout, r.Stderr)
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("user's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = strata(t, root, "run", "--rm", "-v", file+":/dev/stdout", "alpine", "cat", "/dev/stdout")
	if r.Code != 0 || r.Stdout != "user's\n" {
		t.Errorf("-v FILE:/dev/stdout: exit %d, printed %q, want the file's text (stderr %q)", r.Code, r.Stdout, r.Stderr)
	}
	r = strata(t, root, "run", "--rm", "-v", file+":/dev/ptmx", "alpine", "true")
	checkRefused(t, "-v FILE:/dev/ptmx", r, 125, "/dev/ptmx is the container's link to its /dev/pts/ptmx")
	// At a mount point the device is not made and the mount stays, as with docker (runc
	// mounts first and its mknod skips what is there), said in a warning.
	data := t.TempDir()
	for _, p := range []string{"/dev/pts", "/dev/shm", "/dev/mqueue", "/data", "/etc/hosts"} {
		r := strata(t, root, "run", "--rm", "-v", data+":/data", "--device", "/dev/zero:"+p, "alpine", "stat", "-c", "%F", p)
		want := "directory\n"
		if p == "/etc/hosts" {
			want = "regular file\n"
		}
		w := "strata: warning: --device /dev/zero:" + p + ": " + p + " is a mount point of the container, where no device is made"
		if r.Code != 0 || r.Stdout != want || !strings.HasPrefix(r.Stderr, w) || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("--device /dev/zero:%s: exit %d, printed %q, stderr %q; want %q and the one-line warning", p, r.Code, r.Stdout, r.Stderr, want)
		}
	}
	// devpts makes no node (runc fails there too): said so, not "permission denied".
	for _, p := range []string{"/dev/pts/x", "/dev/pts/x/y"} {
		r := strata(t, root, "run", "--rm", "--device", "/dev/zero:"+p, "alpine", "true")
		checkRefused(t, "--device /dev/zero:"+p, r, 125, "device "+p+": /dev/pts is the container's devpts, which holds only the terminals it makes")
	}
	if r := mustStrata(t, root, "ps", "-aq"); r.Stdout != "" {
		t.Errorf("containers left after run --rm: %q", r.Stdout)
	}
}

// TestRunDeviceAtStandardDevices: a --device at /dev/null, /dev/zero, /dev/full,
// /dev/random, /dev/urandom or /dev/tty is the user's device, as with docker (runc's default
// devices and the spec's are one list, the spec's replacing the default of its path), where
// strata refused it. At /dev/null the masks still bind a null device over /proc/keys, and
// the command's stdin without -i still reads nothing, never the user's device.
func TestRunDeviceAtStandardDevices(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	hex := func(n string) string { // stat -c %t:%T prints hex
		maj, min, _ := strings.Cut(n, ":")
		a, _ := strconv.Atoi(maj)
		b, _ := strconv.Atoi(min)
		return fmt.Sprintf("%x:%x", a, b)
	}
	zero, full := hex(hostDevice(t, "/dev/zero")), hex(hostDevice(t, "/dev/full"))
	for _, p := range []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"} {
		src, want := "/dev/zero", zero
		if p == "/dev/zero" {
			src, want = "/dev/full", full
		}
		r := strata(t, root, "run", "--rm", "--device", src+":"+p, "alpine", "stat", "-c", "%F %t:%T", p)
		if w := "character special file " + want + "\n"; r.Code != 0 || r.Stdout != w {
			t.Errorf("--device %s:%s: exit %d, printed %q, want %q (stderr %q)", src, p, r.Code, r.Stdout, w, r.Stderr)
		}
	}
	r := strata(t, root, "run", "--rm", "--device", "/dev/zero:/dev/null", "alpine", "sh", "-c", "stat -c %t:%T /proc/keys; head -c 5 | wc -c")
	if r.Code != 0 || r.Stdout != "1:3\n0\n" {
		t.Errorf("--device /dev/zero:/dev/null: exit %d, printed %q, want /proc/keys masked by the null device and an empty stdin (stderr %q)", r.Code, r.Stdout, r.Stderr)
	}
	if r := mustStrata(t, root, "ps", "-aq"); r.Stdout != "" {
		t.Errorf("containers left after run --rm: %q", r.Stdout)
	}
}

// TestRunDevCoreFollowsKcore: the container's /dev/core links to /proc/kcore only where
// the host's kernel has one, as with docker (runc stats /proc/kcore first), where strata
// always made it, a link to nothing on a kernel without CONFIG_PROC_KCORE.
func TestRunDevCoreFollowsKcore(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	want := "none\n"
	if _, err := os.Stat("/proc/kcore"); err == nil {
		want = "/proc/kcore\n"
	}
	r := strata(t, root, "run", "--rm", "alpine", "sh", "-c", "readlink /dev/core || echo none")
	if r.Code != 0 || r.Stdout != want {
		t.Errorf("/dev/core: exit %d, printed %q, want %q (stderr %q)", r.Code, r.Stdout, want, r.Stderr)
	}
}
