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
// Run is the bare foreground path; a stored container goes through Store, RunContainer (in the
// foreground, recording its state) or Start (detached), then Stop, Kill, Wait, Logs, Inspect
// and Store.Remove. As `strata run` drives it:
//
//	store, _ := runner.OpenStore(root + "/containers")
//	c, _ := store.Create(runner.Config{Spec: spec, Image: ref, Name: name, AutoRemove: rm})
//	c.Config.Spec.Root, _ = snap.Prepare(ctx, c.Dir, diffIDs, false) // writable; see Spec.Root
//	_ = c.SaveConfig()
//	if detach {
//		err = runner.Start(ctx, c) // returns once the command runs
//	} else {
//		code, err = runner.RunContainer(ctx, c, runner.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
//	}
//
// A --rm container outlives a strata killed before it could remove it only until the next
// run, ps, rm or prune: Store.RemoveOrphans and Store.SweepOrphans remove the --rm containers
// whose recorded monitor is gone (by pid and start time), and the cgroups a killed run leaked
// (cgroups.Sweep). Integration tests stop a run at chosen points with TestStopEnv.
//
// Errors that end a run early are *ExitCodeError (125 strata, 126 cannot execute, 127 not
// found); errors from the init read "init: mounting rootfs: ..." and keep their sentinels
// (errors.Is(err, ErrUnknownUser)).
package runner
