// Package runner runs containers as plain processes with Docker's semantics, without a daemon.
//
// Terms used throughout:
//
//   - container dir: <root>/containers/<id>/, the only state a container has: config.json (the
//     Spec and image name), state.json (status, pid, exit code), log.json for detached runs,
//     and the files bind mounted as /etc/hostname, /etc/hosts and /etc/resolv.conf.
//   - init: strata re-executed (from a sealed copy of its own binary) with an argv[0] marker
//     into fresh namespaces. It receives the Spec as JSON on an inherited socket, builds the
//     rootfs, drops privileges and execs the entrypoint as PID 1. It answers with an error on
//     the same socket, or with nothing: the socket closes on exec, which means "running".
//   - plan: the init's mount and file steps, computed from the Spec as plain data (plan.go) and
//     applied by a small executor (exec_linux.go), so the decisions are testable without root.
//   - monitor: for detached containers, strata re-executed in its own session; it runs the
//     container like Run does, writes its output to log.json and records how it ended.
//
// Run is the foreground path; Start, Stop, Kill, Wait, Logs and Store are the detached one.
package runner
