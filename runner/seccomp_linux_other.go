//go:build linux && !amd64

package runner

// Other architectures have no syscall table yet: loadSeccomp fails with errUnsupportedArch,
// and a container needs --security-opt seccomp=unconfined there.
var seccompABIs []seccompABI
