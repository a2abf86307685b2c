// Package cgroups gives each strata container one cgroup and reads it back.
//
// Terms used here:
//
//   - hierarchy: the mounted cgroup filesystems of the host, found once per process. "v2" is one
//     cgroup2 tree at /sys/fs/cgroup; "v1" is one tree per controller at /sys/fs/cgroup/<ctrl>;
//     "hybrid" is v1 controllers plus a cgroup2 tree at /sys/fs/cgroup/unified that usually holds
//     no controllers we need.
//   - parent: the directory strata owns in every tree, "strata". Containers' cgroups sit directly
//     under it: /sys/fs/cgroup/strata/<name> on v2, /sys/fs/cgroup/<ctrl>/strata/<name> on v1.
//   - cgroup: the set of directories (one per v1 mount it uses and a unified node on hybrid
//     hosts, or the single v2 one) that belong to one
//     container, managed as one object by Cgroup.
//
// The package writes the cgroup files directly instead of going through a library: it is a
// few dozen small writes, and every millisecond of `strata run` counts. On v1 a container gets
// memory, cpuacct, pids, freezer, devices and blkio directories always, and cpu and cpuset only when a limit
// needs them (they are the costly ones to make). A limit the host cannot enforce (no swap
// accounting, no such controller, a CPU outside the allowed set) is an error wrapping
// ErrUnsupported, never a silent no-op: a user who asked for a limit must get it.
//
// A typical container lifecycle, as the runner drives it:
//
//	cg, err := cgroups.New(id, cgroups.Resources{Memory: 512 << 20, PidsLimit: 100})
//	// start the init with SysProcAttr.UseCgroupFD and cg.BirthFD() where ok (v2, and a
//	// hybrid host's unified node); the init's first act, on its exec thread:
//	err = cgroups.JoinThread(cg.ThreadDirs()) // the v1 controllers, if any
//	// (AddProc moves another process, at the price of an RCU grace period on v1)
//	// ... the container runs and exits; then:
//	oom, err := cg.OOMKilled()
//	err = cg.Kill()   // whatever it left running
//	err = cg.Delete() // also closes the DirFD fd
package cgroups
