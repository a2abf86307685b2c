// Package proccard reads a container's process card: what the kernel knows about the
// container's PID 1, as plain data, and renders it for people.
//
// A container is a process. The card says which one, from the host's side:
//
//   - process: the host PID, its PID inside the container (NSpid in /proc/<pid>/status),
//     its command, and the chain of parents up to the host's PID 1 (the monitor, then
//     whatever started strata);
//   - namespaces: each of mnt, uts, ipc, pid, net, cgroup, user and time with its inode, as
//     `readlink /proc/<pid>/ns/*` and `lsns -p <pid>` show them, and whether the host shares
//     it ("host" means PID 1's namespaces when they can be read, else strata's own);
//   - cgroup: the process's lines of /proc/<pid>/cgroup, the cgroup directory, the limits
//     read back from the kernel's files and the current usage;
//   - root filesystem: the overlay's lowerdirs, each mapped to the image layer it unpacks
//     (DiffID, compressed digest and size), and the upperdir with its size.
//
// Read builds a Card from /proc and cgroupfs; Text renders it as a card, Explain as a short
// walk-through naming the host commands that show the same facts. Nothing here changes the
// process or its cgroup.
package proccard
