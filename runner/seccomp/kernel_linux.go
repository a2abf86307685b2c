package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// HostKernel returns the running kernel's version, for Target.Kernel.
func HostKernel() (KernelVersion, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return KernelVersion{}, fmt.Errorf("reading kernel release: %w", err)
	}
	return ParseKernel(unix.ByteSliceToString(uts.Release[:]))
}
