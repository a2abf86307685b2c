package seccomp

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary, run by TestKernelFilter, load the default filter and make
// the calls of kernelCalls instead of running tests.
const helperEnv = "STRATA_SECCOMP_FILTER_HELPER"

// kernelCall is one raw syscall the helper makes under the filter, with the errno the filter
// must produce; each is chosen so that the kernel, unfiltered, would answer differently.
type kernelCall struct {
	name string
	nr   uintptr
	args [3]uintptr
	want unix.Errno // 0: the call reaches the kernel and succeeds
}

// nonexistent is a path argument; a package variable, so the pointer the call gets as a
// uintptr stays valid.
var nonexistent = []byte("/nonexistent\x00")

func kernelCalls() []kernelCall {
	calls := []kernelCall{
		{name: "getpid", nr: unix.SYS_GETPID},
		// The thread is one of several: unfiltered, unshare(CLONE_NEWUSER) fails with EINVAL.
		{name: "unshare newuser", nr: unix.SYS_UNSHARE, args: [3]uintptr{unix.CLONE_NEWUSER}, want: unix.EPERM},
		// Unfiltered, the null struct fails with EFAULT (or EINVAL for size 0).
		{name: "clone3", nr: unix.SYS_CLONE3, want: unix.ENOSYS},
		// Unfiltered, root gets an error about the arguments (EFAULT, ENOENT), not EPERM.
		{name: "mount", nr: unix.SYS_MOUNT, args: [3]uintptr{0, uintptr(unsafe.Pointer(&nonexistent[0])), 0}, want: unix.EPERM},
		// 0xffffffff queries the persona, and is allowed by Docker's profile.
		{name: "personality query", nr: unix.SYS_PERSONALITY, args: [3]uintptr{0xffffffff}},
		// Unfiltered: EAFNOSUPPORT, or a socket of a protocol Docker's profile leaves out.
		{name: "socket AF_AX25", nr: unix.SYS_SOCKET, args: [3]uintptr{3, unix.SOCK_DGRAM, 0}, want: unix.EPERM},
	}
	if runtime.GOARCH == "amd64" {
		// Unfiltered, an x32 getpid works on kernels built with x32 and is ENOSYS elsewhere.
		calls = append(calls, kernelCall{name: "x32 getpid", nr: x32Bit | unix.SYS_GETPID, want: unix.EPERM})
	}
	return calls
}

// runHelper is the helper process: it loads the filter on its one locked thread and reports
// each call's errno on stdout.
func runHelper() {
	runtime.LockOSThread()
	kernel, err := HostKernel()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	prog, err := Compile(Default(), Target{Caps: dockerCaps, Kernel: kernel})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	filter := make([]unix.SockFilter, len(prog.Filter))
	for i, in := range prog.Filter {
		filter[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("error: no_new_privs:", err)
		os.Exit(1)
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(prog.Flags), uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		fmt.Println("error: seccomp:", errno)
		os.Exit(1)
	}
	var out strings.Builder
	for _, c := range kernelCalls() {
		_, _, errno := unix.RawSyscall(c.nr, c.args[0], c.args[1], c.args[2])
		fmt.Fprintf(&out, "%s: %d\n", c.name, int(errno))
	}
	// Printed after the calls: the write is not made under test.
	fmt.Print(out.String())
	os.Exit(0)
}

// TestKernelFilter loads the compiled default profile into a real kernel, in a child process
// (a seccomp filter cannot be removed), and checks the errno of calls the filter decides.
// It pins what the BPF interpreter of the other tests cannot: that the kernel accepts the
// program and reads seccomp_data as the compiler assumes.
func TestKernelFilter(t *testing.T) {
	if NativeArch() == "" {
		t.Skip("skipping: no syscall table for this architecture")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKernelFilter$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, errno, _ := strings.Cut(l, ": ")
		got[name] = errno
	}
	for _, c := range kernelCalls() {
		if want := fmt.Sprint(int(c.want)); got[c.name] != want {
			t.Errorf("%s under the filter: errno %s, want %d (%v)", c.name, got[c.name], c.want, c.want)
		}
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		runHelper()
	}
	os.Exit(m.Run())
}
