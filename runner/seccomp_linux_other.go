//go:build linux && !amd64

package runner

// Other architectures have no syscall table yet: loadSeccomp fails with errUnsupportedArch,
// and a container needs --security-opt seccomp=unconfined there.
const (
	seccompArch   = 0
	seccompX32    = false
	seccompClone3 = -1
)

var seccompDenied []seccompRule
