package runner

import (
	"encoding/json"
	"os"
)

// WarmStart does, on a goroutine of its own, the one-time work this process would otherwise
// do on a container start's critical path, while the CLI is still parsing and looking up: the
// os package's check that pidfds work (a pidfd_open, a waitid and a clone of a child that
// exits at once, run by the first StartProcess, which is the init's clone) and
// encoding/json's reflection over the types of the container's records. A start that gets
// there first waits for the same work (the caches are shared), never does it twice. The
// channel is closed once the goroutine is done.
func WarmStart() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Release()
		}
		_, _ = json.Marshal(&Config{})
		_, _ = json.Marshal(&State{})
	}()
	return done
}
