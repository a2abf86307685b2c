package runner

import "os"

// nameProcess sets this process's name, the comm that ps, top and /proc/PID/comm show, to
// name (at most 15 bytes). A helper is exec'd through /proc/self/fd/N (sealedExe), which
// names it "N", and the reaper exec'd from the container's view of it "exe": a monitor
// listed as "100" beside each container says nothing to whoever reads ps on the host, where
// docker's and podman's show containerd-shim and conmon. Writing /proc/self/comm names the
// thread group's leader, which ps shows, whatever thread runs this. Best effort: a /proc
// missing or covered leaves the old name, and nothing else depends on it.
func nameProcess(name string) {
	if len(name) > 15 {
		name = name[:15]
	}
	f, err := os.OpenFile("/proc/self/comm", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	_, _ = f.WriteString(name)
	f.Close()
}
