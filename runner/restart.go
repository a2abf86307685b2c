package runner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/strata-run/strata/internal/quote"
)

// RestartPolicy is docker's HostConfig.RestartPolicy (--restart): what the detached
// container's monitor does when the container exits. There is no daemon: a container is
// restarted by the monitor that ran it, and nothing restarts it after the host reboots.
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// The restart policies' names, as docker's.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartUnlessStopped = "unless-stopped"
	RestartOnFailure     = "on-failure"
)

// ParseRestartPolicy reads --restart as docker does: no, always, unless-stopped or
// on-failure[:MAX], MAX a count of retries (0: no limit) only with on-failure; "" is no. The
// errors are docker's (its CLI's for the format, its daemon's for the rest).
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	if hasCount && name == "" {
		return RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	p := RestartPolicy{Name: name}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return RestartPolicy{}, fmt.Errorf("invalid restart policy format: maximum retry count must be an integer: %s", quote.Value(count))
		}
		p.MaximumRetryCount = n
	}
	switch name {
	case "", RestartNo, RestartAlways, RestartUnlessStopped:
		if p.MaximumRetryCount != 0 {
			return RestartPolicy{}, errors.New("invalid restart policy: maximum retry count can only be used with 'on-failure'")
		}
		if p.Name == "" {
			p.Name = RestartNo
		}
	case RestartOnFailure:
		if p.MaximumRetryCount < 0 {
			return RestartPolicy{}, errors.New("invalid restart policy: maximum retry count cannot be negative")
		}
	default:
		return RestartPolicy{}, fmt.Errorf("invalid restart policy: unknown policy %s; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", quote.Value(name))
	}
	return p, nil
}

// Restarts reports whether p ever restarts a container.
func (p RestartPolicy) Restarts() bool {
	return p.Name == RestartAlways || p.Name == RestartUnlessStopped || p.Name == RestartOnFailure
}

// stopKind is how a container was stopped by hand (the stopMarkFile's content): docker's
// HasBeenManuallyStopped, which keeps an unless-stopped container down, and its canceled
// restart manager (ExitOnNext: stop, rm -f, a kill with the stop signal), which keeps any.
type stopKind int

const (
	notStopped      stopKind = iota
	stoppedByHand            // a kill with another signal: unless-stopped stays down
	restartCanceled          // stop, rm -f, kill with SIGKILL or the stop signal
)

// shouldRestart is docker's restartmanager.ShouldRestart: whether a container that exited
// with code, restarted count times so far and stopped as stopped, is restarted.
func (p RestartPolicy) shouldRestart(code, count int, stopped stopKind) bool {
	if stopped == restartCanceled {
		return false
	}
	switch p.Name {
	case RestartAlways:
		return true
	case RestartUnlessStopped:
		return stopped == notStopped
	case RestartOnFailure:
		return code != 0 && (p.MaximumRetryCount == 0 || count < p.MaximumRetryCount)
	}
	return false
}

// docker's restart backoff (restartmanager): 100 ms, doubled at each restart up to a minute,
// back to 100 ms once a run lasted 10 s.
const (
	restartFirstDelay = 100 * time.Millisecond
	restartMaxDelay   = time.Minute
	restartResetAfter = 10 * time.Second
)

// nextRestartDelay is the wait before the next restart, given the last one's and how long the
// container ran.
func nextRestartDelay(last, ran time.Duration) time.Duration {
	if ran >= restartResetAfter {
		last = 0
	}
	switch {
	case last <= 0:
		return restartFirstDelay
	case last < restartMaxDelay:
		last *= 2
	}
	return min(last, restartMaxDelay)
}
