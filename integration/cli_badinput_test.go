package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// badCall is one hostile or broken invocation and the status it must end with.
type badCall struct {
	args []string
	code int    // docker's: 125 for run, exec, start (and enter) errors of their own, 126/127 for a command that cannot run, 1 otherwise (exec: what its daemon refuses)
	want string // in the error line, if set
}

// TestCLIBadInput runs every command with what users and scripts get wrong: missing and extra
// arguments, unknown flags, bad flag values, bad references, names that do not exist, paths
// that are missing or are a directory or a FIFO where a file belongs, and a --root that is a
// file. Each call must fail with the documented status and one line, "strata: …", on stderr,
// with no panic and no formatting junk, and must leave the root exactly as it was.
func TestCLIBadInput(t *testing.T) {
	requiresContainers(t)
	root, layout := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "bi-running", "bi-stopped") })
	mustStrata(t, root, "run", "-d", "--name", "bi-running", "alpine", "sleep", "600")
	mustStrata(t, root, "run", "--name", "bi-stopped", "alpine", "true")

	scratch := t.TempDir()
	dir := filepath.Join(scratch, "dir")
	fifo := filepath.Join(scratch, "fifo")
	garbage := filepath.Join(scratch, "garbage")
	file := filepath.Join(scratch, "file")
	missing := filepath.Join(scratch, "missing")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(garbage, []byte("not an archive\x00\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	nulEnv := filepath.Join(scratch, "nul.env")
	if err := os.WriteFile(nulEnv, []byte("A=1\nB=x\x00y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 300)
	badRefs := []string{"upper/CASE", "a@sha256:short", "::", long, "../x", "a:b:c", "-x"}
	badPlatforms := []string{"linux/", "/amd64", "a/b/c/d"}

	calls := []badCall{
		// strata itself and --root.
		{args: []string{"bogus"}, code: 1, want: `unknown command "bogus"`},
		{args: []string{"--bogus"}, code: 125, want: "unknown flag"},
		{args: []string{"--root", file, "images"}, code: 1, want: "not a directory"},
		{args: []string{"--root", file, "run", "alpine", "true"}, code: 125, want: "not a directory"},
		{args: []string{"--root", filepath.Join(file, "sub"), "ps"}, code: 1, want: "not a directory"},
		{args: []string{"--root", "", "ps"}, code: 1, want: "--root"},
		{args: []string{"--storage-driver", "bogus", "images"}, code: 1, want: "--storage-driver"},
		{args: []string{"--storage-driver", "bogus", "run", "alpine", "true"}, code: 125, want: "--storage-driver"},
		{args: []string{"version", "x"}, code: 1},
		{args: []string{"completion", "bogus"}, code: 1},
		{args: []string{"completion", "bash", "x"}, code: 1},
		{args: []string{"completion", "zsh", "x"}, code: 1},
		{args: []string{"completion", "fish", "x"}, code: 1},
		{args: []string{"completion", "powershell", "x"}, code: 1},

		{args: []string{"pull"}, code: 1},
		{args: []string{"pull", "a", "b"}, code: 1},
		{args: []string{"pull", "--bogus", "alpine"}, code: 125, want: "unknown flag"},
		{args: []string{"pull", "--max-concurrent-downloads", "-1", "alpine"}, code: 1},
		{args: []string{"pull", "--max-concurrent-downloads", "99999999999999999999", "alpine"}, code: 125},
		{args: []string{"pull", "--max-concurrent-downloads", "x", "alpine"}, code: 125},
		{args: []string{"pull", "--progress", "bogus", "alpine"}, code: 1},
		{args: []string{"pull", "--offline", "nosuch"}, code: 1, want: "nosuch"},

		{args: []string{"images", "a", "b"}, code: 1},
		{args: []string{"images", "--bogus"}, code: 125},
		{args: []string{"images", "--format", "{{"}, code: 1, want: "--format"},
		{args: []string{"images", "--format", "{{.Bogus}}"}, code: 1, want: "--format"},
		{args: []string{"images", "--format", "table {{.Bogus}}"}, code: 1, want: "--format"},

		{args: []string{"run"}, code: 1},
		{args: []string{"run", "--bogus", "alpine"}, code: 125, want: "unknown flag"},
		{args: []string{"run", "nosuch"}, code: 125, want: "nosuch"},
		{args: []string{"run", "-m", "x", "alpine", "true"}, code: 125},
		{args: []string{"run", "-m", "-5", "alpine", "true"}, code: 125},
		{args: []string{"run", "-m", "99999999999999999999999", "alpine", "true"}, code: 125},
		{args: []string{"run", "--cpus", "x", "alpine", "true"}, code: 125},
		{args: []string{"run", "--cpus", "-1", "alpine", "true"}, code: 125},
		{args: []string{"run", "--cpus", "NaN", "alpine", "true"}, code: 125},
		{args: []string{"run", "--pids-limit", "x", "alpine", "true"}, code: 125},
		{args: []string{"run", "--cpu-shares", "-1", "alpine", "true"}, code: 125},
		// A CPU the host does not have: docker's daemon refuses it at create; strata made the
		// container, and each start failed making its cgroup (run left it behind, Exited 125).
		{args: []string{"create", "--cpuset-cpus", "8191", "alpine", "true"}, code: 125, want: "not available"},
		{args: []string{"run", "--cpuset-cpus", "0,8191", "alpine", "true"}, code: 125, want: "not available"},
		// --cpu-shares 1 and 262145 are clamped with docker's warning, and run (TestCPUSharesClamp).
		{args: []string{"run", "--memory", "1k", "alpine", "true"}, code: 125, want: "strata: invalid memory value"},
		{args: []string{"create", "--memory-swap", "3m", "alpine", "true"}, code: 125, want: "needs a memory limit too"},
		// An empty limit, as docker's CLI refuses it (a script's unset variable), not no limit.
		{args: []string{"run", "--memory=", "alpine", "true"}, code: 125, want: `invalid memory value ""`},
		{args: []string{"create", "-m", "10m", "--memory-swap", "", "alpine", "true"}, code: 125, want: `invalid memory-swap value ""`},
		{args: []string{"run", "--cpus", "", "alpine", "true"}, code: 125, want: `invalid cpus value ""`},
		// docker's remaining cgroup flags (hres): docker's refusals, before anything is made.
		{args: []string{"run", "--cpus", "1", "--cpu-period", "50000", "alpine", "true"}, code: 125, want: "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{args: []string{"create", "--cpus", "1", "--cpu-quota", "50000", "alpine", "true"}, code: 125, want: "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{args: []string{"run", "--cpu-period", "999", "alpine", "true"}, code: 125, want: "CPU cfs period can not be less than 1ms"},
		{args: []string{"run", "--cpu-period", "x", "alpine", "true"}, code: 125},
		{args: []string{"create", "--cpu-quota", "999", "alpine", "true"}, code: 125, want: "CPU cfs quota can not be less than 1ms"},
		{args: []string{"run", "--cpu-quota", "-2", "alpine", "true"}, code: 125, want: "CPU cfs quota can not be less than 1ms"},
		{args: []string{"run", "--cpuset-mems", "abc", "alpine", "true"}, code: 125, want: `invalid cpuset mems value "abc"`},
		{args: []string{"create", "--cpuset-mems", "1000", "alpine", "true"}, code: 125, want: "not available"},
		{args: []string{"run", "--memory-reservation", "1k", "alpine", "true"}, code: 125, want: "Minimum memory reservation allowed is 6MB"},
		{args: []string{"run", "--memory-reservation", "", "alpine", "true"}, code: 125, want: `invalid memory-reservation value ""`},
		{args: []string{"create", "-m", "10m", "--memory-reservation", "20m", "alpine", "true"}, code: 125, want: "memory limit can not be less than memory reservation limit"},
		{args: []string{"run", "--memory-swappiness", "101", "alpine", "true"}, code: 125, want: "valid memory swappiness range is 0-100"},
		{args: []string{"run", "--memory-swappiness", "-2", "alpine", "true"}, code: 125, want: "valid memory swappiness range is 0-100"},
		{args: []string{"run", "--oom-kill-disable=maybe", "alpine", "true"}, code: 125},
		{args: []string{"run", "--blkio-weight", "9", "alpine", "true"}, code: 125, want: "Range of blkio weight is from 10 to 1000"},
		{args: []string{"create", "--blkio-weight", "1001", "alpine", "true"}, code: 125, want: "Range of blkio weight is from 10 to 1000"},
		{args: []string{"run", "--blkio-weight", "70000", "alpine", "true"}, code: 125},
		{args: []string{"run", "--cgroup-parent", "../..", "alpine", "true"}, code: 125, want: `".." would leave the cgroup tree`},
		{args: []string{"create", "--cgroup-parent", "/", "alpine", "true"}, code: 125, want: "the root of the cgroup tree is no parent"},
		{args: []string{"run", "--cgroup-parent", "a/../../../etc", "alpine", "true"}, code: 125, want: `".." would leave the cgroup tree`},
		{args: []string{"update"}, code: 1},
		{args: []string{"container", "update", "--cpu-quota", "5", "nosuch"}, code: 125, want: "CPU cfs quota"},
		{args: []string{"update", "bi-running"}, code: 1, want: "you must provide one or more flags"},
		{args: []string{"update", "--restart", "bogus", "bi-running"}, code: 125, want: "unknown policy"},
		{args: []string{"update", "--restart", "always:3", "bi-running"}, code: 125, want: "maximum retry count can only be used with 'on-failure'"},
		{args: []string{"update", "--restart", "on-failure:x", "bi-running"}, code: 125, want: "must be an integer"},
		{args: []string{"update", "--restart", "no", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"update", "--blkio-weight", "0", "bi-running"}, code: 0}, // docker's: a flag given, nothing changed
		{args: []string{"update", "-m", "12x", "bi-running"}, code: 125, want: `invalid memory value "12x"`},
		{args: []string{"update", "-m", "", "bi-running"}, code: 125, want: `invalid memory value ""`},
		{args: []string{"update", "-m", "1k", "bi-running"}, code: 125, want: `invalid memory value "1k": minimum memory limit allowed is 6MB`},
		{args: []string{"update", "-m", "1g", "--memory-swap", "10m", "bi-running"}, code: 125, want: `invalid memory-swap value "10m"`},
		{args: []string{"run", "-m", "1024k", "alpine", "true"}, code: 125, want: `invalid memory value "1024k": minimum memory limit allowed is 6MB`},
		{args: []string{"update", "--memory-reservation", "1k", "bi-running"}, code: 125, want: "Minimum memory reservation allowed is 6MB"},
		{args: []string{"update", "--cpus", "x", "bi-running"}, code: 125, want: "invalid cpus value"},
		{args: []string{"update", "--cpus", "1", "--cpu-quota", "5000", "bi-running"}, code: 125, want: "Conflicting options"},
		{args: []string{"update", "--cpu-period", "1", "bi-running"}, code: 125, want: "CPU cfs period"},
		{args: []string{"update", "--cpuset-cpus", "8191", "bi-running"}, code: 1, want: "not available"},
		{args: []string{"update", "--cpuset-mems", "", "bi-running"}, code: 0}, // docker's: no cpuset, nothing changed
		{args: []string{"update", "--blkio-weight", "5", "bi-running"}, code: 125, want: "Range of blkio weight"},
		{args: []string{"update", "--pids-limit", "x", "bi-running"}, code: 125},
		{args: []string{"update", "--memory-swap", "3m", "bi-stopped"}, code: 1, want: "needs a memory limit too"},
		{args: []string{"update", "-m", "100m", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"run", "--cgroupns", "bogus", "alpine", "true"}, code: 125, want: `--cgroupns: invalid CGROUP mode "bogus"`},
		{args: []string{"create", "--cgroupns", "Host", "alpine", "true"}, code: 125, want: "--cgroupns"},
		// --pid, --ipc, --uts and --network container:X (TestRunNamespaceSharing): bad modes,
		// docker's conflicting options, a missing, stopped or non-shareable container.
		{args: []string{"run", "--pid", "bogus", "alpine", "true"}, code: 125, want: `--pid: invalid PID mode "bogus"`},
		{args: []string{"create", "--pid", "container:", "alpine", "true"}, code: 125, want: "--pid: invalid PID mode"},
		{args: []string{"run", "--ipc", "Host", "alpine", "true"}, code: 125, want: `--ipc: invalid IPC mode "Host"`},
		{args: []string{"run", "--uts", "container:bi-running", "alpine", "true"}, code: 125, want: "--uts: invalid UTS mode"},
		{args: []string{"run", "--uts", "host", "-h", "x", "alpine", "true"}, code: 125, want: "conflicting options: hostname and the UTS mode"},
		{args: []string{"run", "--network", "container:bi-running", "--hostname", "x", "alpine", "true"}, code: 125, want: "conflicting options: hostname and the network mode"},
		{args: []string{"create", "--network", "container:bi-running", "--dns", "1.1.1.1", "alpine", "true"}, code: 125, want: "conflicting options: dns and the network mode"},
		{args: []string{"run", "--network", "container:bi-running", "--add-host", "a:1.2.3.4", "alpine", "true"}, code: 125, want: "conflicting options: custom host-to-IP mapping"},
		{args: []string{"run", "--network", "container:", "alpine", "true"}, code: 125, want: "network"},
		{args: []string{"run", "--network", "container:bi-nope", "alpine", "true"}, code: 125, want: "bi-nope: no such container"},
		{args: []string{"create", "--pid", "container:bi-nope", "alpine", "true"}, code: 125, want: "bi-nope: no such container"},
		{args: []string{"run", "--rm", "--network", "container:bi-stopped", "alpine", "true"}, code: 125, want: "cannot join network of a non running container: "},
		{args: []string{"run", "--rm", "--pid", "container:bi-stopped", "alpine", "true"}, code: 125, want: "is not running"},
		{args: []string{"run", "--rm", "--ipc", "container:bi-running", "alpine", "true"}, code: 125, want: "non-shareable IPC"},
		// No capability sets a nofile limit past the kernel's fs.nr_open: said so, not "needs CAP_SYS_RESOURCE".
		{args: []string{"run", "--ulimit", "nofile=-1", "alpine", "true"}, code: 125, want: "above the kernel's maximum"},
		// --device, --device-cgroup-rule, --sysctl and --oom-score-adj, as docker checks them.
		{args: []string{"run", "--device", "", "alpine", "true"}, code: 125, want: "empty host path"},
		{args: []string{"run", "--device", "dev/null", "alpine", "true"}, code: 125, want: "not an absolute path"},
		{args: []string{"run", "--device", "/dev/null:rel", "alpine", "true"}, code: 125, want: `"rel" is not an absolute path`},
		{args: []string{"run", "--device", "/dev/null:/x:rwx", "alpine", "true"}, code: 125, want: "bad mode specified"},
		{args: []string{"run", "--device", "/dev/null:/x:rw:y", "alpine", "true"}, code: 125, want: "HOST[:CONTAINER][:PERMISSIONS]"},
		{args: []string{"run", "--device", "/dev/null:/", "alpine", "true"}, code: 125, want: "can't be '/'"},
		{args: []string{"create", "--device", "/dev/null:/proc/kcore", "alpine", "true"}, code: 125, want: "can't be in /proc or /sys"},
		{args: []string{"run", "--device", file, "alpine", "true"}, code: 125, want: "not a device node"},
		{args: []string{"create", "--device", missing, "alpine", "true"}, code: 125, want: "no such file or directory"},
		{args: []string{"run", "--device", dir, "alpine", "true"}, code: 125, want: "nor a directory holding any"},
		{args: []string{"run", "--device", fifo, "alpine", "true"}, code: 125, want: "not a device node"},
		{args: []string{"run", "--device-cgroup-rule", "c 42:* rwx", "alpine", "true"}, code: 125, want: "invalid device cgroup rule"},
		{args: []string{"run", "--device-cgroup-rule", "x 1:3 r", "alpine", "true"}, code: 125, want: "type must be a, b or c"},
		{args: []string{"create", "--device-cgroup-rule", "c 1 r", "alpine", "true"}, code: 125, want: "MAJOR:MINOR"},
		{args: []string{"run", "--device-cgroup-rule", "c  1:3 r", "alpine", "true"}, code: 125, want: "invalid device cgroup rule"},
		{args: []string{"run", "--device-cgroup-rule", "c 99999999999:1 r", "alpine", "true"}, code: 125, want: "invalid device cgroup rule"},
		{args: []string{"run", "--device-cgroup-rule", "c 1:3 rr", "alpine", "true"}, code: 125, want: "invalid device cgroup rule"},
		{args: []string{"run", "--device-cgroup-rule", "", "alpine", "true"}, code: 125, want: "invalid device cgroup rule"},
		{args: []string{"run", "--sysctl", "vm.swappiness=1", "alpine", "true"}, code: 125, want: `sysctl "vm.swappiness" is not whitelisted`},
		{args: []string{"run", "--sysctl", "kernel.shmmax", "alpine", "true"}, code: 125, want: "want KEY=VALUE"},
		{args: []string{"run", "--sysctl", "=1", "alpine", "true"}, code: 125, want: "want KEY=VALUE"},
		{args: []string{"create", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "alpine", "true"}, code: 125, want: "not allowed in host network namespace"},
		{args: []string{"run", "--ipc", "host", "--sysctl", "kernel.shmmax=1", "alpine", "true"}, code: 125, want: "not allowed in the host's IPC namespace"},
		{args: []string{"create", "--uts", "host", "--sysctl", "kernel.domainname=x", "alpine", "true"}, code: 125, want: "not allowed in the host's UTS namespace"},
		{args: []string{"run", "--sysctl", "kernel.shmmax=", "alpine", "true"}, code: 125, want: "empty value"},
		{args: []string{"run", "--sysctl", "net..x=1", "alpine", "true"}, code: 125, want: "invalid sysctl"},
		{args: []string{"run", "--sysctl", "net.ipv4/../../../x=1", "alpine", "true"}, code: 125, want: "invalid sysctl"},
		{args: []string{"run", "--sysctl", "kernel.hostname=x", "alpine", "true"}, code: 125, want: "--hostname"},
		{args: []string{"run", "--sysctl", "kernel.shmmax=1\n2", "alpine", "true"}, code: 125, want: "newline"},
		{args: []string{"run", "--rm", "--sysctl", "net.ipv4.nosuch=1", "alpine", "true"}, code: 125, want: "no such sysctl"},
		{args: []string{"run", "--rm", "--sysctl", "kernel.shmmax=abc", "alpine", "true"}, code: 125, want: "invalid argument"},
		{args: []string{"run", "--oom-score-adj", "1001", "alpine", "true"}, code: 125, want: "range for oom score adj is [-1000, 1000]"},
		{args: []string{"create", "--oom-score-adj", "-1001", "alpine", "true"}, code: 125, want: "range for oom score adj"},
		{args: []string{"run", "--oom-score-adj", "x", "alpine", "true"}, code: 125, want: "--oom-score-adj"},
		{args: []string{"run", "--oom-score-adj", "99999999999", "alpine", "true"}, code: 125, want: "--oom-score-adj"},
		// A log tag is a template as --format's, with its bounds: these died of "fatal error: out
		// of memory" with a Go stack trace (TestLogTagBounded has the endless loop).
		{args: []string{"create", "--log-opt", "tag={{pad .Name 1000000000000 0}}", "alpine", "true"}, code: 125, want: "the log tag is too long"},
		{args: []string{"run", "--log-opt", `tag={{define "x"}}{{template "x" (printf "%s%s" . .)}}{{end}}{{template "x" .Name}}`, "alpine", "true"}, code: 125, want: "--log-opt tag: printf would make more than"},
		{args: []string{"run", "--stop-signal", "SIGNOPE", "alpine", "true"}, code: 125, want: "--stop-signal"},
		{args: []string{"run", "--stop-signal", "RTMIN+99", "alpine", "true"}, code: 125, want: "--stop-signal"},
		{args: []string{"create", "--stop-timeout", "x", "alpine", "true"}, code: 125},
		{args: []string{"run", "--env-file", missing, "alpine", "true"}, code: 125},
		{args: []string{"run", "--env-file", dir, "alpine", "true"}, code: 125},
		{args: []string{"run", "--security-opt", "seccomp=" + dir, "alpine", "true"}, code: 125},
		{args: []string{"run", "--security-opt", "seccomp=" + missing, "alpine", "true"}, code: 125},
		{args: []string{"run", "--security-opt", "seccomp=" + garbage, "alpine", "true"}, code: 125},
		// A FIFO the user names is read as docker reads it (one with no writer would wait
		// for one); an endless device is stopped at the size bound (TestUserFilesAsDocker).
		{args: []string{"run", "--env-file", "/dev/zero", "alpine", "true"}, code: 125, want: "file too big"},
		{args: []string{"run", "--security-opt", "seccomp=/dev/zero", "alpine", "true"}, code: 125, want: "file too big"},
		{args: []string{"run", "--security-opt", "bogus", "alpine", "true"}, code: 125},
		{args: []string{"run", "--name", "bi-running", "alpine", "true"}, code: 125, want: "already in use"},
		{args: []string{"run", "--name", "bad name/x", "alpine", "true"}, code: 125},
		// docker's flags strata cannot honour are refused with the reason, before anything is made.
		{args: []string{"run", "-p", "8080:80", "alpine", "true"}, code: 125, want: "bridge network"},
		{args: []string{"run", "-P", "alpine", "true"}, code: 125, want: "bridge network"},
		// docker's other flags of a bridge network: refused with that reason, not as unknown.
		{args: []string{"run", "--ip", "10.0.0.2", "alpine", "true"}, code: 125, want: "--ip needs a bridge network"},
		{args: []string{"run", "--ip6", "fd00::2", "alpine", "true"}, code: 125, want: "--ip6 needs a bridge network"},
		{args: []string{"create", "--mac-address", "02:42:ac:11:00:02", "alpine", "true"}, code: 125, want: "--mac-address needs a bridge network"},
		{args: []string{"run", "--network-alias", "web", "alpine", "true"}, code: 125, want: "--network-alias needs a bridge network"},
		{args: []string{"run", "--net-alias", "web", "alpine", "true"}, code: 125, want: "--net-alias needs a bridge network"},
		{args: []string{"run", "--link", "db:db", "alpine", "true"}, code: 125, want: "--link needs a bridge network"},
		{args: []string{"run", "--link-local-ip", "169.254.1.1", "alpine", "true"}, code: 125, want: "--link-local-ip needs a bridge network"},
		{args: []string{"run", "--expose", "80-", "alpine", "true"}, code: 125, want: `--expose "80-": invalid port range`},
		{args: []string{"create", "--expose", "80/icmp", "alpine", "true"}, code: 125, want: "protocol must be tcp, udp or sctp"},
		{args: []string{"create", "--publish=80", "alpine", "true"}, code: 125, want: "bridge network"},
		{args: []string{"run", "--rm", "--restart=on-failure:3", "alpine", "true"}, code: 125, want: "Conflicting options: --restart and --rm"},
		{args: []string{"run", "-d", "--rm", "--restart", "always", "alpine", "true"}, code: 125, want: "Conflicting options: --restart and --rm"},
		{args: []string{"create", "--rm", "--restart", "unless-stopped", "alpine", "true"}, code: 125, want: "Conflicting options: --restart and --rm"},
		{args: []string{"run", "-d", "--restart", "sometimes", "alpine", "true"}, code: 125, want: "unknown policy"},
		{args: []string{"run", "-d", "--restart", "on-failure:x", "alpine", "true"}, code: 125, want: "must be an integer"},
		{args: []string{"run", "-d", "--restart", "on-failure:-1", "alpine", "true"}, code: 125, want: "cannot be negative"},
		{args: []string{"run", "-d", "--restart", "always:2", "alpine", "true"}, code: 125, want: "only be used with 'on-failure'"},
		{args: []string{"create", "--restart", ":2", "alpine", "true"}, code: 125, want: "no policy provided"},
		{args: []string{"run", "-d", "--restart", long, "alpine", "true"}, code: 125, want: "unknown policy"},
		{args: []string{"run", "-d", "-a", "stdout", "alpine", "true"}, code: 125, want: "Conflicting options: -a and -d"},
		{args: []string{"run", "-a", "stdio", "alpine", "true"}, code: 125, want: "valid streams are STDIN, STDOUT and STDERR"},
		{args: []string{"run", "-a", "", "alpine", "true"}, code: 125, want: "valid streams"},
		{args: []string{"run", "--sig-proxy=maybe", "alpine", "true"}, code: 125, want: "--sig-proxy"},
		{args: []string{"create", "--sig-proxy=false", "alpine", "true"}, code: 125, want: "unknown flag"},
		// docker's pattern takes two characters at least.
		{args: []string{"run", "--name", "a", "alpine", "true"}, code: 125, want: "invalid container name"},
		{args: []string{"run", "--name", "/b", "alpine", "true"}, code: 125, want: "invalid container name"},
		{args: []string{"run", "--network", "bogus", "alpine", "true"}, code: 125},
		{args: []string{"create", "--network", "bridge", "alpine", "true"}, code: 125, want: "strata makes no networks; use none (only lo, the default), host, or container:NAME|ID"},
		{args: []string{"run", "-v", "x", "alpine", "true"}, code: 125},
		{args: []string{"run", "--mount", "bogus", "alpine", "true"}, code: 125},
		{args: []string{"run", "--tmpfs", "relative", "alpine", "true"}, code: 125},
		// docker refuses an empty tmpfs-size or tmpfs-mode; strata took it as none.
		{args: []string{"run", "--mount", "type=tmpfs,target=/x,tmpfs-size=", "alpine", "true"}, code: 125, want: "tmpfs-size"},
		{args: []string{"create", "--mount", "type=tmpfs,target=/x,tmpfs-mode=", "alpine", "true"}, code: 125, want: "tmpfs-mode"},
		{args: []string{"run", "--env-file", nulEnv, "alpine", "true"}, code: 125, want: "line 2: invalid environment variable \"B\": contains a NUL byte"},
		{args: []string{"run", "-v", dir + ":/", "alpine", "true"}, code: 125, want: "destination can't be '/'"},
		{args: []string{"run", "-v", dir + ":/x", "--tmpfs", "/x", "alpine", "true"}, code: 125, want: "duplicate mount point: /x"},
		{args: []string{"run", "-v", dir + ":/proc/sys", "alpine", "true"}, code: 125, want: "inside /proc"},
		// Named volumes: docker's name rule; a name with a "/" is a host path, which must be
		// absolute; "../x" is one, relative to the working directory, as docker's CLI reads it.
		{args: []string{"run", "-v", "a/b:/x", "alpine", "true"}, code: 125, want: "use absolute path"},
		{args: []string{"run", "-v", "x:/x", "alpine", "true"}, code: 125, want: "invalid characters for a local volume name"},
		{args: []string{"run", "-v", "_v:/x", "alpine", "true"}, code: 125, want: "invalid characters for a local volume name"},
		{args: []string{"run", "-v", "vol:x", "alpine", "true"}, code: 125, want: "not absolute"},
		{args: []string{"run", "-v", "vol:/x:rshared", "alpine", "true"}, code: 125, want: "not a volume"},
		{args: []string{"run", "-v", "vol:/x:nocopy,copy", "alpine", "true"}, code: 125, want: "both"},
		{args: []string{"run", "-v", "vol:/x:bogus", "alpine", "true"}, code: 125, want: "unknown option"},
		{args: []string{"run", "-v", "vol:/proc/sys", "alpine", "true"}, code: 125, want: "inside /proc"},
		{args: []string{"create", "--mount", "type=volume,source=../x,target=/x", "alpine", "true"}, code: 125, want: "invalid characters"},
		{args: []string{"create", "--mount", "type=volume,source=a/b,target=/x", "alpine", "true"}, code: 125, want: "invalid characters"},
		{args: []string{"create", "--mount", "type=volume,source=vol,target=/x,volume-opt=o=1", "alpine", "true"}, code: 125, want: "volume-opt"},
		{args: []string{"create", "--mount", "type=volume,source=vol,target=/x,volume-nocopy=maybe", "alpine", "true"}, code: 125, want: "volume-nocopy"},
		{args: []string{"run", "--tmpfs", "/proc", "alpine", "true"}, code: 125, want: "inside /proc"},
		{args: []string{"run", "--hostname", strings.Repeat("h", 65), "alpine", "true"}, code: 125, want: "longer than 64 bytes"},
		{args: []string{"run", "--domainname", strings.Repeat("d", 65), "alpine", "true"}, code: 125, want: "invalid domainname"},
		{args: []string{"create", "--domainname", "a\nb", "alpine", "true"}, code: 125, want: "contains a control character"},
		{args: []string{"run", "--network", "container:bi-running", "--domainname", "x", "alpine", "true"}, code: 125, want: "conflicting options: domainname and the network mode"},
		{args: []string{"run", "-w", "relative", "alpine", "true"}, code: 125},
		{args: []string{"run", "-e", "=x", "alpine", "true"}, code: 125},
		{args: []string{"run", "--time-offset", "x", "alpine", "true"}, code: 125},
		{args: []string{"run", "--add-host", "x", "alpine", "true"}, code: 125},
		{args: []string{"run", "--dns", "x", "alpine", "true"}, code: 125},
		{args: []string{"run", "--dns-search", "a..b", "alpine", "true"}, code: 125},
		{args: []string{"run", "--cidfile", "/", "alpine", "true"}, code: 125, want: "container ID file found"},
		{args: []string{"create", "--cidfile", "/nonexistent-dir/x/cid", "alpine", "true"}, code: 125},
		{args: []string{"create", "--dns-search", "x\nnameserver 6.6.6.6", "alpine", "true"}, code: 125},
		{args: []string{"run", "--dns-option", "ndots:1 rotate", "alpine", "true"}, code: 125},
		{args: []string{"create", "--dns-option", "", "alpine", "true"}, code: 125},
		{args: []string{"run", "--cap-add", "BOGUS", "alpine", "true"}, code: 125},
		{args: []string{"run", "--platform", "bogus", "alpine", "true"}, code: 125, want: "invalid platform"},
		{args: []string{"run", "--platform", "linux/s390x", "alpine", "true"}, code: 125, want: "linux/s390x"},
		{args: []string{"create", "--platform", "linux/s390x", "alpine", "true"}, code: 125, want: "linux/s390x"},
		{args: []string{"run", "--rm", "alpine", "nosuchcmd"}, code: 127, want: "nosuchcmd"},
		{args: []string{"run", "--rm", "alpine", "/etc"}, code: 126, want: "/etc"},
		{args: []string{"run", "--rm", "alpine", "/etc/passwd/x"}, code: 125, want: "/etc/passwd/x: not a directory"},

		{args: []string{"ps", "extra"}, code: 1},
		{args: []string{"ps", "-f", "bogus=1"}, code: 1, want: "--filter"},
		{args: []string{"ps", "-f", "status=zombie"}, code: 1, want: "--filter"},
		{args: []string{"ps", "-f", "name=["}, code: 1, want: "--filter"},
		{args: []string{"ps", "-f", "publish=8080:80"}, code: 1, want: "--filter"},
		{args: []string{"ps", "-f", "is-task=1"}, code: 1, want: "--filter"},
		{args: []string{"ps", "--format", "{{"}, code: 1, want: "--format"},
		{args: []string{"ps", "--format", "{{.Bogus}}"}, code: 1, want: "--format"},

		{args: []string{"rm"}, code: 1},
		{args: []string{"rm", "--bogus", "x"}, code: 125},
		{args: []string{"rm", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"rm", "bi-running"}, code: 1, want: "running"},

		{args: []string{"rmi"}, code: 1},
		{args: []string{"rmi", "nosuch"}, code: 1, want: "nosuch"},
		// alpine:latest alone would only be untagged, as docker does while alpine:3.20.3 names
		// the image too; by ID, the image itself is refused.
		{args: []string{"rmi", "04574bec7a1d"}, code: 1, want: "must be forced"},

		{args: []string{"save"}, code: 1},
		{args: []string{"save", "nosuch", "-o", filepath.Join(scratch, "x.tar")}, code: 1, want: "nosuch"},
		{args: []string{"save", "alpine", "-o", dir}, code: 1, want: "directory"},
		{args: []string{"save", "alpine", "-o", fifo}, code: 1, want: fifo},
		{args: []string{"save", "alpine", "-o", filepath.Join(missing, "x.tar")}, code: 1},
		{args: []string{"save", "--format", "bogus", "alpine", "-o", filepath.Join(scratch, "x.tar")}, code: 1},
		{args: []string{"save", "--format", "oci-dir", "alpine"}, code: 1},

		{args: []string{"load", "extra"}, code: 1},
		{args: []string{"load", "-i", missing}, code: 1, want: missing},
		{args: []string{"load", "-i", dir}, code: 1, want: dir},
		{args: []string{"load", "-i", fifo}, code: 1, want: fifo},
		{args: []string{"load", "-i", garbage}, code: 1, want: garbage},
		{args: []string{"load", "-i", file}, code: 1, want: file},
		{args: []string{"load", "--name", "upper/CASE", "-i", garbage}, code: 1},

		{args: []string{"serve", "extra"}, code: 1},
		{args: []string{"serve", "--addr", "bogus"}, code: 1},
		{args: []string{"serve", "--addr", "127.0.0.1:99999"}, code: 1},
		{args: []string{"serve", "--pull-through", "::"}, code: 1},
		{args: []string{"serve", "--platform", "linux/amd64"}, code: 1, want: "--pull-through"},

		{args: []string{"prune", "extra"}, code: 1},
		{args: []string{"prune", "--bogus"}, code: 125},
		{args: []string{"prune", "--filter", "label="}, code: 1, want: "--filter"},
		{args: []string{"history"}, code: 1},
		// An ID prefix of fewer than 4 digits names no image, as docker's.
		{args: []string{"image", "inspect", "0"}, code: 1, want: "not in the store"},
		{args: []string{"image", "inspect", "sha256:a"}, code: 1, want: "not in the store"},
		{args: []string{"history", "alpine", "busybox"}, code: 1},
		{args: []string{"history", "--bogus", "alpine"}, code: 125},
		{args: []string{"history", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"history", "--platform", "linux/bogus", "alpine"}, code: 1, want: "linux/bogus"},
		{args: []string{"image", "history", "--format", "{{.Bogus}}", "alpine"}, code: 1, want: "--format"},
		{args: []string{"image", "prune", "-f", "--filter", "bogus=1"}, code: 1, want: "--filter"},
		{args: []string{"system"}, code: 0},
		{args: []string{"system", "bogus"}, code: 1, want: `unknown command "bogus"`},
		{args: []string{"system", "df", "extra"}, code: 1},
		{args: []string{"system", "df", "--format", "bogus"}, code: 1},
		{args: []string{"system", "prune", "extra"}, code: 1},
		{args: []string{"system", "prune", "-f", "--filter", "bogus=1"}, code: 1, want: "--filter"},
		{args: []string{"system", "prune", "-f", "--filter", "until=garbage"}, code: 1, want: "--filter"},
		{args: []string{"system", "prune", "--bogus"}, code: 125, want: "unknown flag"},
		{args: []string{"info", "extra"}, code: 1},
		{args: []string{"info", "--format", "{{.Bogus}}"}, code: 1, want: "Bogus"},
		{args: []string{"info", "--format", "{{"}, code: 1, want: "--format"},
		{args: []string{"system", "info", "--bogus"}, code: 125, want: "unknown flag"},
		{args: []string{"events", "extra"}, code: 1},
		{args: []string{"events", "--since", "yesterday"}, code: 1, want: "--since"},
		{args: []string{"events", "--until", "-5"}, code: 1, want: "--until"},
		{args: []string{"events", "--since", "1m", "--until", "1h"}, code: 1, want: "--until"},
		{args: []string{"events", "--filter", "bogus=1", "--until", "0s"}, code: 1, want: "--filter"},
		{args: []string{"events", "--filter", "type=network", "--until", "0s"}, code: 1, want: "--filter"},
		{args: []string{"events", "--filter", "noequals"}, code: 1, want: "--filter"},
		{args: []string{"events", "--format", "{{.Bogus"}, code: 1, want: "--format"},
		{args: []string{"system", "events", "--bogus"}, code: 125, want: "unknown flag"},

		{args: []string{"login", "a", "b"}, code: 1},
		{args: []string{"login", "--password-stdin", "-p", "x"}, code: 1},
		{args: []string{"login", "-u", "x", "--password-stdin", "127.0.0.1:1"}, code: 1, want: "empty"},
		{args: []string{"logout", "a", "b"}, code: 1},
		{args: []string{"search"}, code: 1},
		{args: []string{"search", "a", "b"}, code: 1},
		{args: []string{"search", "--limit", "0", "x"}, code: 1, want: "limit 0 is outside the range"},
		{args: []string{"search", "--filter", "bogus=1", "x"}, code: 1, want: "invalid filter"},
		{args: []string{"search", "--limit", "x", "x"}, code: 125, want: "--limit"},
		{args: []string{"search", "127.0.0.1:1/x"}, code: 1, want: "connection refused"},

		{args: []string{"push"}, code: 1},
		{args: []string{"push", "nosuch"}, code: 1, want: "nosuch"},

		{args: []string{"tag"}, code: 1},
		{args: []string{"tag", "alpine"}, code: 1},
		{args: []string{"tag", "a", "b", "c"}, code: 1},
		{args: []string{"tag", "nosuch", "x"}, code: 1, want: "nosuch"},
		{args: []string{"tag", "alpine", "x@sha256:" + strings.Repeat("0", 64)}, code: 1, want: "digest"},

		{args: []string{"image", "bogus"}, code: 1, want: `unknown command "bogus"`},
		{args: []string{"image", "inspect"}, code: 1},
		{args: []string{"image", "inspect", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"image", "inspect", "-f", "{{", "alpine"}, code: 1, want: "--format"},
		{args: []string{"image", "inspect", "-f", "{{.Bogus}}", "alpine"}, code: 1, want: "--format"},
		{args: []string{"image", "ls", "a", "b"}, code: 1},
		{args: []string{"image", "rm", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"image", "pull"}, code: 1},
		{args: []string{"image", "push"}, code: 1},
		{args: []string{"image", "tag", "alpine"}, code: 1},

		// docker's container group: the same commands under other names.
		{args: []string{"container"}, code: 0},
		{args: []string{"container", "bogus"}, code: 1, want: `unknown command "bogus"`},
		{args: []string{"container", "ls", "extra"}, code: 1},
		{args: []string{"container", "ls", "-f", "bogus=1"}, code: 1, want: "--filter"},
		{args: []string{"container", "run", "--memory", "1k", "alpine", "true"}, code: 125, want: "invalid memory value"},
		{args: []string{"container", "create", "nosuch"}, code: 125, want: "nosuch"},
		{args: []string{"container", "exec"}, code: 1},
		{args: []string{"container", "inspect", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "kill", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "pause", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "unpause", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "logs", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "rename", "nosuch"}, code: 1},
		{args: []string{"container", "restart", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "rm", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "start", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "stats", "--no-stream", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "stop", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "top", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "port", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"container", "wait", "nosuch"}, code: 1, want: "nosuch"},
		// -f, or prune would ask; each call is refused before anything is removed.
		{args: []string{"container", "prune", "-f", "extra"}, code: 1, want: "accepts no arguments"},
		{args: []string{"container", "prune", "-f", "--filter", "bogus=1"}, code: 1, want: "--filter"},
		{args: []string{"container", "prune", "-f", "--filter", "until=garbage"}, code: 1, want: "--filter"},

		{args: []string{"volume", "bogus"}, code: 1},
		{args: []string{"inspect", "--type", "volume", "nosuch"}, code: 1, want: "no such volume"},
		{args: []string{"inspect", "--type", "volume", "--proc", "nosuch"}, code: 1, want: "--proc"},
		{args: []string{"inspect", "--type", "network", "nosuch"}, code: 1, want: "--type"},
		{args: []string{"volume", "create", "../x"}, code: 1, want: "invalid characters"},
		{args: []string{"volume", "create", "a/b"}, code: 1, want: "invalid characters"},
		{args: []string{"volume", "create", "--name", "x"}, code: 1, want: "invalid characters"},
		{args: []string{"volume", "create", "vol1", "vol2"}, code: 1, want: "accepts at most 1 arg"},
		{args: []string{"volume", "create", "--name", "vol1", "vol2"}, code: 1, want: "conflicting options"},
		{args: []string{"volume", "create", "-l", "", "vol1"}, code: 1, want: "label"},
		{args: []string{"volume", "create", "-d", "nfs", "vol1"}, code: 1, want: "--driver"},
		{args: []string{"volume", "create", "-o", "type=tmpfs", "vol1"}, code: 1, want: "--opt"},
		{args: []string{"volume", "inspect"}, code: 1},
		{args: []string{"volume", "inspect", ""}, code: 1, want: "invalid characters"},
		{args: []string{"volume", "inspect", "nosuch"}, code: 1, want: "get nosuch: no such volume"},
		{args: []string{"volume", "inspect", "../x"}, code: 1, want: "invalid characters"},
		{args: []string{"volume", "inspect", "-f", "{{.Bogus}}", "nosuch"}, code: 1},
		{args: []string{"volume", "rm"}, code: 1},
		{args: []string{"volume", "rm", "nosuch"}, code: 1, want: "remove nosuch: no such volume"},
		{args: []string{"volume", "rm", "../../containers"}, code: 1, want: "invalid characters"},
		{args: []string{"volume", "ls", "x"}, code: 1, want: "accepts no arguments"},
		{args: []string{"volume", "ls", "--filter", "bogus=1"}, code: 1, want: "--filter"},
		{args: []string{"volume", "ls", "--filter", "dangling=maybe"}, code: 1, want: "dangling"},
		{args: []string{"volume", "ls", "--filter", "name"}, code: 1, want: "key=value"},
		{args: []string{"volume", "ls", "--format", "{{.Name"}, code: 1, want: "--format"},
		{args: []string{"volume", "prune", "-f", "extra"}, code: 1, want: "accepts no arguments"},
		{args: []string{"volume", "prune", "-f", "--filter", "dangling=true"}, code: 1, want: "--filter"},

		{args: []string{"exec"}, code: 1},
		{args: []string{"exec", "bi-running"}, code: 1},
		{args: []string{"exec", "--bogus", "bi-running", "true"}, code: 125, want: "unknown flag"},
		// docker's CLI returns its daemon's refusal, and an --env-file it cannot read, as
		// they are: exit 1.
		{args: []string{"exec", "nosuch", "true"}, code: 1, want: "nosuch"},
		{args: []string{"exec", "bi-stopped", "true"}, code: 1, want: "not running"},
		{args: []string{"exec", "--env-file", missing, "bi-running", "true"}, code: 1},
		{args: []string{"exec", "--env-file", "/dev/zero", "bi-running", "true"}, code: 1, want: "file too big"},
		{args: []string{"exec", "-e", "", "bi-running", "true"}, code: 125},
		// Was the command's failure, 126, naming no variable.
		{args: []string{"exec", "--env-file", nulEnv, "bi-running", "true"}, code: 1, want: "contains a NUL byte"},
		{args: []string{"exec", "bi-running", "nosuchcmd"}, code: 127, want: "nosuchcmd"},
		{args: []string{"exec", "bi-running", "/etc"}, code: 126, want: "/etc"},
		// Docker's 126 for a user or working directory runc refuses once the exec started.
		{args: []string{"exec", "-u", "nosuchuser", "bi-running", "true"}, code: 126, want: "unable to find user nosuchuser"},
		{args: []string{"exec", "-u", "99999999999", "bi-running", "true"}, code: 126, want: "range"},
		{args: []string{"exec", "-u", "root:nosuchgroup", "bi-running", "true"}, code: 126, want: "unable to find group nosuchgroup"},
		{args: []string{"exec", "-w", "tmp", "bi-running", "true"}, code: 126, want: "absolute"},
		{args: []string{"exec", "-w", "/nosuch", "bi-running", "true"}, code: 126, want: "/nosuch"},
		{args: []string{"exec", "-w", "/etc/passwd", "bi-running", "true"}, code: 126, want: "not a directory"},
		{args: []string{"exec", "-e", "=x", "bi-running", "true"}, code: 125, want: "empty name"},
		{args: []string{"exec", "--env-file", dir, "bi-running", "true"}, code: 1, want: "is a directory"},

		{args: []string{"enter"}, code: 1},
		{args: []string{"enter", "nosuch", "--", "true"}, code: 125, want: "nosuch"},
		{args: []string{"enter", "--ns", "bogus", "bi-running", "--", "true"}, code: 125, want: "bogus"},
		{args: []string{"enter", "--ns", "user", "bi-running", "--", "true"}, code: 125, want: "user"},
		{args: []string{"enter", "--ns", "net,,", "bi-running", "--", "true"}, code: 125, want: "unknown namespace"},
		{args: []string{"enter", "bi-running", "--"}, code: 125, want: "no command"},
		{args: []string{"enter", "bi-stopped", "--", "true"}, code: 125, want: "not running"},
		{args: []string{"enter", "-w", "/nosuch", "bi-running", "--", "true"}, code: 126, want: "/nosuch"},
		{args: []string{"enter", "bi-running", "--", "nosuchcmd"}, code: 127, want: "nosuchcmd"},

		{args: []string{"inspect"}, code: 1},
		{args: []string{"inspect", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"inspect", "--type", "bogus", "bi-running"}, code: 1, want: "--type"},
		{args: []string{"inspect", "-f", "{{.Bogus}}", "bi-running"}, code: 1, want: "--format"},
		{args: []string{"inspect", "--type", "image", "bi-running"}, code: 1, want: "bi-running"},
		{args: []string{"inspect", "--type", "container", "alpine"}, code: 1, want: "alpine"},
		{args: []string{"inspect", "--type", "image", "--proc", "bi-running"}, code: 1, want: "--proc"},
		{args: []string{"inspect", "-f", "{{", "bi-running"}, code: 1, want: "--format"},
		{args: []string{"inspect", "-f", "{{.Bogus}}", "bi-running"}, code: 1, want: "--format"},

		{args: []string{"port"}, code: 1},
		{args: []string{"port", "a", "b", "c"}, code: 1},
		{args: []string{"port", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"port", "bi-running", "x"}, code: 1, want: "x"},
		{args: []string{"port", "bi-running", "80/xyz"}, code: 1, want: "xyz"},
		{args: []string{"port", "bi-stopped", "80"}, code: 1, want: "No public port '80' published for bi-stopped"},

		{args: []string{"top"}, code: 1},
		{args: []string{"top", "a", "b"}, code: 1},
		{args: []string{"top", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"top", "bi-stopped"}, code: 1, want: "not running"},

		{args: []string{"stats", "--no-stream", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"stats", "--no-stream", "--format", "{{"}, code: 1, want: "--format"},
		{args: []string{"stats", "--no-stream", "--format", "{{.Bogus}}"}, code: 1, want: "--format"},
		{args: []string{"stats", "-a", "--no-trunc", "--no-stream", "--format", "{{.Bogus}}"}, code: 1, want: "--format"},
		{args: []string{"stats", "-a", "--no-stream", "nosuch"}, code: 1, want: "nosuch"},

		{args: []string{"explain"}, code: 1},
		{args: []string{"explain", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"explain", "bi-stopped"}, code: 1, want: "not running"},

		{args: []string{"stop"}, code: 1},
		{args: []string{"stop", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"stop", "-t", "x", "bi-running"}, code: 125},
		{args: []string{"stop", "-t", "99999999999999999999", "bi-running"}, code: 125},

		{args: []string{"kill"}, code: 1},
		{args: []string{"kill", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"kill", "-s", "BOGUS", "bi-running"}, code: 1},
		{args: []string{"kill", "-s", "999", "bi-running"}, code: 1},
		// -s "" is kill's default, SIGKILL, as in docker: tried on the stopped one, not bi-running.
		{args: []string{"kill", "-s", "", "bi-stopped"}, code: 1, want: "not running"},
		{args: []string{"kill", "bi-stopped"}, code: 1, want: "not running"},

		{args: []string{"diff"}, code: 1},
		{args: []string{"diff", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"commit"}, code: 1},
		{args: []string{"commit", "bi-stopped", "a", "b"}, code: 1},
		{args: []string{"commit", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"commit", "--pause=maybe", "bi-stopped"}, code: 125},
		{args: []string{"commit", "--bogus", "bi-stopped"}, code: 125},
		{args: []string{"commit", "-c", "RUN true", "bi-stopped", "x:1"}, code: 1, want: "RUN"},
		{args: []string{"commit", "-c", "FROM alpine", "bi-stopped", "x:1"}, code: 1, want: "FROM"},
		{args: []string{"commit", "-c", "CMD", "bi-stopped", "x:1"}, code: 1, want: "CMD"},
		{args: []string{"commit", "-c", "EXPOSE 0", "bi-stopped", "x:1"}, code: 1, want: "EXPOSE"},
		{args: []string{"commit", "-c", "EXPOSE 80/bogus", "bi-stopped", "x:1"}, code: 1, want: "EXPOSE"},
		{args: []string{"commit", "-c", `ENV A="unterminated`, "bi-stopped", "x:1"}, code: 1, want: "quote"},
		{args: []string{"commit", "-c", "ONBUILD ONBUILD RUN x", "bi-stopped", "x:1"}, code: 1, want: "ONBUILD"},
		{args: []string{"commit", "-c", "USER a b", "bi-stopped", "x:1"}, code: 1, want: "USER"},
		{args: []string{"commit", "bi-stopped", "x@sha256:" + strings.Repeat("a", 64)}, code: 1, want: "digest"},
		{args: []string{"export"}, code: 1},
		{args: []string{"export", "a", "b"}, code: 1},
		{args: []string{"export", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"export", "--bogus", "bi-stopped"}, code: 125},
		{args: []string{"export", "-o", dir, "bi-stopped"}, code: 1, want: "directory"},
		{args: []string{"export", "-o", filepath.Join(missing, "x.tar"), "bi-stopped"}, code: 1},
		{args: []string{"import"}, code: 1},
		{args: []string{"import", garbage, "a", "b"}, code: 1},
		{args: []string{"import", missing}, code: 1, want: missing},
		{args: []string{"import", dir}, code: 1, want: dir},
		{args: []string{"import", fifo}, code: 1, want: fifo},
		{args: []string{"import", garbage}, code: 1, want: garbage},
		{args: []string{"import", file}, code: 1, want: "empty"},
		{args: []string{"import", "-"}, code: 1, want: "empty"},
		{args: []string{"import", "ftp://127.0.0.1/x.tar"}, code: 1, want: "http"},
		{args: []string{"import", "http://"}, code: 1, want: "URL"},
		{args: []string{"import", "--bogus", garbage}, code: 125},
		{args: []string{"import", "-c", "RUN true", garbage}, code: 1, want: "RUN"},
		{args: []string{"import", "-c", "VOLUME [\"\"]", garbage}, code: 1, want: "VOLUME"},
		{args: []string{"diff", "bi-running", "extra"}, code: 1},
		{args: []string{"container", "diff", "nosuch"}, code: 1, want: "nosuch"},

		{args: []string{"cp"}, code: 1},
		{args: []string{"cp", "bi-running:/etc"}, code: 1},
		{args: []string{"cp", "bi-running:/etc", dir, "extra"}, code: 1},
		{args: []string{"cp", "--bogus", "bi-running:/etc", dir}, code: 125, want: "unknown flag"},
		{args: []string{"cp", "--archive=maybe", "bi-running:/etc", dir}, code: 125, want: "--archive"},
		{args: []string{"cp", "", "bi-running:/tmp"}, code: 1, want: "source can not be empty"},
		{args: []string{"cp", file, ""}, code: 1, want: "destination can not be empty"},
		{args: []string{"cp", file, missing}, code: 1, want: "must specify at least one container source"},
		{args: []string{"cp", "bi-running:/etc", "bi-stopped:/tmp"}, code: 1, want: "copying between containers is not supported"},
		{args: []string{"cp", "nosuch:/etc", dir}, code: 1, want: "nosuch"},
		{args: []string{"container", "cp", "nosuch:/etc", dir}, code: 1, want: "nosuch"},
		{args: []string{"cp", "bi-running:/nope", dir}, code: 1, want: "Could not find the file /nope in container bi-running"},
		{args: []string{"cp", "bi-stopped:/nope", dir}, code: 1, want: "Could not find the file /nope in container bi-stopped"},
		{args: []string{"cp", "bi-stopped:/etc/passwd/.", dir}, code: 1, want: "not a directory"},
		{args: []string{"cp", "bi-running:/etc/hostname", filepath.Join(missing, "x")}, code: 1, want: "invalid output path"},
		{args: []string{"cp", "bi-running:/etc/hostname", fifo}, code: 1, want: "must be a directory or a regular file"},
		{args: []string{"cp", missing, "bi-running:/tmp"}, code: 1, want: "no such file or directory"},
		{args: []string{"cp", dir, "bi-running:/etc/hostname"}, code: 1, want: "cannot copy directory"},
		{args: []string{"cp", "-", "bi-running:/etc/hostname"}, code: 1, want: `destination "bi-running:/etc/hostname" must be a directory`},
		{args: []string{"cp", file, "bi-running:/tmp/missing/"}, code: 1, want: "no such directory"},
		{args: []string{"cp", file, "bi-stopped:/nonexistent/x"}, code: 1, want: "Could not find the file /nonexistent in container bi-stopped"},

		{args: []string{"pause"}, code: 1},
		{args: []string{"pause", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"pause", "bi-stopped"}, code: 1, want: "not running"},
		{args: []string{"unpause"}, code: 1},
		{args: []string{"unpause", "bi-running"}, code: 1, want: "not paused"},
		{args: []string{"unpause", "bi-stopped"}, code: 1, want: "not running"},

		{args: []string{"start"}, code: 1},
		{args: []string{"start", "nosuch"}, code: 1, want: "nosuch"}, // docker start exits 1, and for its argument count; a bad flag 125
		{args: []string{"restart"}, code: 1},
		{args: []string{"restart", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"restart", "-t", "x", "bi-running"}, code: 125},
		{args: []string{"rename"}, code: 1},
		{args: []string{"rename", "bi-running"}, code: 1},
		{args: []string{"rename", "nosuch", "x"}, code: 1, want: "nosuch"},
		{args: []string{"rename", "bi-running", "bi-stopped"}, code: 1, want: "already in use"},
		{args: []string{"rename", "bi-running", "bi-running"}, code: 1, want: "already"},
		{args: []string{"rename", "bi-running", "bad/name"}, code: 1, want: "invalid container name"},
		{args: []string{"rename", "bi-running", "z"}, code: 1, want: "invalid container name"},
		{args: []string{"create"}, code: 1},
		{args: []string{"create", "-d", "alpine"}, code: 125, want: "unknown shorthand flag"},
		{args: []string{"create", "nosuch"}, code: 125, want: "nosuch"},
		{args: []string{"create", "-m", "x", "alpine", "true"}, code: 125},
		{args: []string{"create", "--name", "bi-running", "alpine", "true"}, code: 125, want: "already in use"},
		{args: []string{"create", "--name", "c", "alpine", "true"}, code: 125, want: "invalid container name"},
		{args: []string{"wait"}, code: 1},
		{args: []string{"wait", "nosuch"}, code: 1, want: "nosuch"},

		{args: []string{"attach"}, code: 1},
		{args: []string{"attach", "a", "b"}, code: 1},
		{args: []string{"attach", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"attach", "bi-stopped"}, code: 1, want: "you cannot attach to a stopped container"},
		{args: []string{"attach", "--detach-keys", "ctrl-", "bi-running"}, code: 1, want: "--detach-keys"},
		{args: []string{"attach", "--sig-proxy=maybe", "bi-running"}, code: 125, want: "sig-proxy"},
		{args: []string{"container", "attach", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"logs"}, code: 1},
		{args: []string{"logs", "a", "b"}, code: 1},
		{args: []string{"logs", "nosuch"}, code: 1, want: "nosuch"},
		{args: []string{"logs", "--since", "yesterday", "bi-running"}, code: 1, want: "--since"},
		{args: []string{"logs", "--until", "-5", "bi-running"}, code: 1, want: "--until"},
		{args: []string{"logs", "--details", "--since", "yesterday", "bi-stopped"}, code: 1, want: "--since"},

		{args: []string{"bench", "bogus"}, code: 1, want: `unknown command "bogus"`},
		{args: []string{"bench", "share"}, code: 1},
		{args: []string{"bench", "share", "--format", "yaml", "x"}, code: 1},
		{args: []string{"bench", "share", "--max-concurrent-downloads", "0", "x"}, code: 1},
	}
	// Every command that takes a reference or a platform gets every bad one.
	for _, ref := range badRefs {
		code := 1
		if strings.HasPrefix(ref, "-") {
			code = 125 // read as an unknown flag: docker's 125 for any command
		}
		calls = append(calls,
			badCall{args: []string{"pull", "--offline", ref}, code: code},
			badCall{args: []string{"run", ref}, code: 125},
			badCall{args: []string{"rmi", ref}, code: code},
			badCall{args: []string{"tag", "alpine", ref}, code: code},
			badCall{args: []string{"save", ref, "-o", filepath.Join(scratch, "x.tar")}, code: code},
			badCall{args: []string{"push", ref}, code: code},
			badCall{args: []string{"image", "inspect", ref}, code: code},
			badCall{args: []string{"inspect", ref}, code: code},
			badCall{args: []string{"load", "--name", ref, "-i", garbage}, code: 1},
			// No flag after the first argument, as docker's commit and import: "-x" is a name.
			badCall{args: []string{"commit", "bi-stopped", ref}, code: 1},
			badCall{args: []string{"import", garbage, ref}, code: 1},
		)
	}
	for _, p := range badPlatforms {
		calls = append(calls,
			badCall{args: []string{"pull", "--platform", p, "alpine"}, code: 1, want: "platform"},
			badCall{args: []string{"save", "--platform", p, "alpine", "-o", filepath.Join(scratch, "x.tar")}, code: 1, want: "platform"},
			badCall{args: []string{"load", "--platform", p, "-i", layout}, code: 1, want: "platform"},
			badCall{args: []string{"import", "--platform", p, garbage}, code: 1, want: "platform"},
			badCall{args: []string{"serve", "--platform", p, "--pull-through", "docker.io"}, code: 1, want: "platform"},
			badCall{args: []string{"bench", "share", "--platform", p, "x"}, code: 1, want: "platform"},
		)
	}
	checkEveryCommandCalled(t, root, calls)

	before := rootState(t, root)
	for _, c := range calls {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := strata(t, root, c.args...)
			if r.Code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.Code, c.code, r.Stderr)
			}
			if strings.Contains(r.Stdout+r.Stderr, "%!") {
				t.Errorf("formatting junk in the output: stdout %q, stderr %q", r.Stdout, r.Stderr)
			}
			if c.code == 0 {
				return
			}
			assertOneLineError(t, r.Stderr, c.want)
			after := rootState(t, root)
			switch {
			case after == before:
			default:
				t.Errorf("the root changed:\nbefore: %s\nafter:  %s", before, after)
			}
			before = after
		})
	}
}

// checkEveryCommandCalled fails the test for each command in strata's help (and its groups')
// that no call exercises, so a new command cannot skip this matrix.
func checkEveryCommandCalled(t *testing.T, root string, calls []badCall) {
	t.Helper()
	called := map[string]bool{}
	for _, c := range calls {
		args := c.args
		if len(args) > 1 && args[0] == "--root" {
			args = args[2:]
		}
		for i := 1; i <= len(args) && i <= 3; i++ {
			called[strings.Join(args[:i], " ")] = true
		}
	}
	var commands func(prefix []string)
	commands = func(prefix []string) {
		help := mustStrata(t, root, append(prefix, "--help")...).Stdout
		_, list, ok := strings.Cut(help, "Available Commands:\n")
		if !ok {
			return
		}
		list, _, _ = strings.Cut(list, "\n\n")
		for _, line := range strings.Split(list, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] == "help" {
				continue
			}
			path := append(slices.Clone(prefix), f[0])
			if !called[strings.Join(path, " ")] {
				t.Errorf("strata %s is not in the bad-input matrix", strings.Join(path, " "))
			}
			if len(prefix) < 2 {
				commands(path)
			}
		}
	}
	commands(nil)
}

// rootState sums up what a command could write in root: the refs in index.json, the blobs,
// the layer dirs and the containers.
func rootState(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	if b, err := os.ReadFile(filepath.Join(root, "oci", "index.json")); err == nil {
		h.Write(b)
	}
	var names []string
	for _, sub := range []string{"oci/blobs/sha256", "snapshots", "containers"} {
		entries, err := os.ReadDir(filepath.Join(root, sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, sub+"/"+e.Name())
		}
	}
	h.Write([]byte(strings.Join(names, "\n")))
	return hex.EncodeToString(h.Sum(nil))[:12] + " (" + strings.Join(names, " ") + ")"
}
