package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"
)

// Health checks, as docker's daemon runs them (moby daemon/health.go), without a daemon: the
// process that waits for a container (its monitor: the detached monitor, or a foreground
// `strata run`) runs its HEALTHCHECK's test in it, through exec's code path, first after the
// start period at the start interval, then every interval, and records the outcome in
// health.json beside state.json, where inspect and ps read it.
//
// Terms: a check is one run of the test; its result has an exit code (0 healthy, anything
// else a failure: 1 is unhealthy, -1 a check that could not run or ran past its timeout);
// the failing streak counts failures in a row, and reaching the retries makes the container
// unhealthy.

// Health statuses, docker's.
const (
	HealthNone      = "none" // no healthcheck, only as ps --filter health= names it
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Docker's defaults for what a HealthConfig leaves zero (moby daemon/health.go).
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 30 * time.Second
	DefaultHealthStartInterval = 5 * time.Second
	DefaultHealthRetries       = 3
)

// MinimumHealthDuration is the shortest interval, timeout, start period or start interval
// docker's daemon takes (moby api/types/container.MinimumDuration).
const MinimumHealthDuration = time.Millisecond

const (
	// healthLogEntries is how many results Health.Log keeps, the latest last.
	healthLogEntries = 5
	// healthOutputMax bounds a result's Output; a longer one ends in "...", as docker's.
	healthOutputMax = 4096
	// healthOutputRead bounds an Output read back: the output and what a timeout's message
	// puts before it.
	healthOutputRead = healthOutputMax + 128
	// healthFile is the container's health state, written by its monitor only.
	healthFile = "health.json"
	// healthFileMax bounds the health.json read back: one strata writes takes at most about
	// 130 KiB (5 outputs of healthOutputRead bytes, each escaped as \u0000 at worst).
	healthFileMax = 256 << 10
)

// Health is docker's State.Health: the status, the failing streak and the last results.
type Health struct {
	Status        string          `json:"Status"`
	FailingStreak int             `json:"FailingStreak"`
	Log           []*HealthResult `json:"Log"`
}

// HealthResult is one check's outcome, docker's HealthcheckResult.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Runs reports whether h has a test to run: CMD or CMD-SHELL. None, NONE (HEALTHCHECK NONE,
// --no-healthcheck) and a kind docker does not know run nothing, as docker's getProbe.
func (h *HealthConfig) Runs() bool {
	if h == nil || len(h.Test) == 0 {
		return false
	}
	return h.Test[0] == "CMD" || h.Test[0] == "CMD-SHELL"
}

// ValidateHealthConfig refuses what docker's daemon refuses in a container's healthcheck
// (moby daemon/container.go validateHealthCheck): a duration set below 1ms, or negative
// retries.
func ValidateHealthConfig(h *HealthConfig) error {
	if h == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}} {
		if d.v != 0 && d.v < MinimumHealthDuration {
			return fmt.Errorf("%s in Healthcheck cannot be less than %s", d.name, MinimumHealthDuration)
		}
	}
	if h.Retries < 0 {
		return errors.New("Retries in Healthcheck cannot be negative")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
		if d.v != 0 && d.v < MinimumHealthDuration {
			return fmt.Errorf("%s in Healthcheck cannot be less than %s", d.name, MinimumHealthDuration)
		}
	}
	return nil
}

// MergeHealthConfig is the container's healthcheck from the flags' (user, nil without any)
// over the image's, as docker's daemon merges them (moby daemon/commit.go merge): without
// flags the image's; with them, each field the flags leave zero (the test too) is the image's.
// --no-healthcheck ({"NONE"}) has a test, so it keeps none of the image's.
func MergeHealthConfig(user, image *HealthConfig) *HealthConfig {
	if image == nil {
		return user
	}
	if user == nil {
		return image
	}
	m := *user
	if len(m.Test) == 0 {
		m.Test = image.Test
	}
	if m.Interval == 0 {
		m.Interval = image.Interval
	}
	if m.Timeout == 0 {
		m.Timeout = image.Timeout
	}
	if m.StartPeriod == 0 {
		m.StartPeriod = image.StartPeriod
	}
	if m.StartInterval == 0 {
		m.StartInterval = image.StartInterval
	}
	if m.Retries == 0 {
		m.Retries = image.Retries
	}
	return &m
}

// healthTimings are a HealthConfig's durations and retries with docker's defaults for zero.
// A value docker's daemon would refuse, which an image may carry all the same (a negative
// interval: the checks ran back to back), is taken as its default too, or as 1ms when below.
type healthTimings struct {
	interval, timeout, startPeriod, startInterval time.Duration
	retries                                       int
}

func timingsOf(h *HealthConfig) healthTimings {
	d := func(v, def time.Duration) time.Duration {
		switch {
		case v <= 0:
			return def
		case v < MinimumHealthDuration:
			return MinimumHealthDuration
		}
		return v
	}
	t := healthTimings{
		interval:      d(h.Interval, DefaultHealthInterval),
		timeout:       d(h.Timeout, DefaultHealthTimeout),
		startPeriod:   max(h.StartPeriod, 0),
		startInterval: d(h.StartInterval, DefaultHealthStartInterval),
		retries:       h.Retries,
	}
	if t.retries <= 0 {
		t.retries = DefaultHealthRetries
	}
	return t
}

// idleAfter is the wait after a check from which the checker trims its memory (idle): checks
// closer together need it again at once.
const idleAfter = time.Second

// healthProbe runs one check: the test in the container, ended when ctx ends, or timeout after
// it started (errHealthTimeout: the time it took to start does not count, as docker's daemon
// counts it). It returns the command's exit status and what it wrote (both streams, bounded
// by out), or the error that kept it from running.
type healthProbe func(ctx context.Context, timeout time.Duration, out *limitedBuffer) (int, error)

// errHealthTimeout is a check that ran past its timeout and was killed.
var errHealthTimeout = errors.New("health check exceeded its timeout")

// healthChecker runs a container's checks and keeps its health (moby's monitor and
// handleProbeResult). Its one goroutine sleeps on one timer between checks.
type healthChecker struct {
	t       healthTimings
	started time.Time // the container's start, which the start period counts from
	probe   healthProbe
	// save records the health (health.json); event tells a change of status.
	save  func(Health)
	event func(status string)
	// skip, when not nil, reports whether a probe's error means the check did not happen
	// (the container paused: docker runs no checks then) and is not recorded.
	skip func(error) bool
	// recorded, when not nil, returns the status health.json holds: a pause sets it
	// unhealthy there (markHealthPaused), which the next result starts from.
	recorded func() (string, bool)
	// watchPause, when not nil, watches for a pause of the container while a check runs:
	// called as the check starts, with the checks' context (ended once they stop) and cut,
	// which kills the check (ends its probe's context), it calls cut once the container is
	// paused, and returns paused, which tells once the check has ended whether the container
	// was paused meanwhile, and stop, which ends the watch. docker's pause stops the health
	// monitor, which cancels the check under way, SIGKILLing its exec, and drops its result
	// (moby's monitor), so such a check is killed and not recorded.
	watchPause func(ctx context.Context, cut func()) (paused func() bool, stop func())
	// watchUnpause, when not nil, is called as the checks start, with their context: it
	// returns a channel that receives once the container has been unpaused (a few unpauses
	// may come as one). docker's pause stops the health monitor and its unpause starts a new
	// one, whose first check comes its interval after the unpause, so the checks' schedule
	// starts again then (resume).
	watchUnpause func(ctx context.Context) <-chan struct{}
	// idle, when not nil, runs after a check that a wait of idleAfter or more follows: the
	// monitor gives back what the check's exec took (heap, the pages of its code).
	idle func()

	mu      sync.Mutex
	h       Health
	stopped bool
	cancel  context.CancelFunc // ends the loop and a check under way
}

// newHealthChecker returns a checker for cfg of a container started at started, starting
// from prev (the last run's health, whose Log docker keeps) as docker resets it: starting,
// with no failing streak.
func newHealthChecker(cfg *HealthConfig, started time.Time, prev Health, probe healthProbe) *healthChecker {
	h := prev
	h.Status, h.FailingStreak = HealthStarting, 0
	if len(h.Log) > healthLogEntries {
		h.Log = h.Log[len(h.Log)-healthLogEntries:]
	}
	return &healthChecker{t: timingsOf(cfg), started: started, probe: probe, h: h, save: func(Health) {}, event: func(string) {}}
}

// start records the starting health and runs the checks in a goroutine until stop.
func (hc *healthChecker) start() {
	ctx, cancel := context.WithCancel(context.Background())
	hc.mu.Lock()
	hc.cancel = cancel
	hc.save(hc.copyLocked())
	hc.mu.Unlock()
	go hc.loop(ctx)
}

// stop ends the checks without waiting for one under way (its end is killed and its result
// dropped), and records the health as docker leaves it once its monitor stops: unhealthy,
// the streak and the log kept. Nothing is recorded after it returns.
func (hc *healthChecker) stop() {
	if hc == nil {
		return
	}
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.stopped {
		return
	}
	hc.stopped = true
	if hc.cancel != nil {
		hc.cancel()
	}
	hc.h.Status = HealthUnhealthy
	hc.save(hc.copyLocked())
}

// health returns a copy of the current health.
func (hc *healthChecker) health() Health {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.copyLocked()
}

func (hc *healthChecker) copyLocked() Health {
	h := hc.h
	h.Log = append([]*HealthResult(nil), hc.h.Log...)
	return h
}

// nextWait is how long until the next check: the start interval while the container is
// starting within its start period, else the interval (moby's getInterval). A start interval
// that would run past the start period's end is cut to what is left of it, as docker's since
// moby PR #52317 ("cap health check start interval by remaining start period"): the check
// comes as the period ends, where it waited the whole start interval (a start period of 2s
// with a start interval of 30s was checked 30s after the start).
func (hc *healthChecker) nextWait(now time.Time) time.Duration {
	elapsed := now.Sub(hc.started)
	if elapsed >= hc.t.startPeriod {
		return hc.t.interval
	}
	hc.mu.Lock()
	status := hc.h.Status
	hc.mu.Unlock()
	if status == HealthStarting {
		return min(hc.t.startInterval, hc.t.startPeriod-elapsed)
	}
	return hc.t.interval
}

func (hc *healthChecker) loop(ctx context.Context) {
	var unpaused <-chan struct{} // nil, never ready, without a watch
	if hc.watchUnpause != nil {
		unpaused = hc.watchUnpause(ctx)
	}
	timer := time.NewTimer(hc.nextWait(time.Now()))
	defer timer.Stop()
	for {
		resumed := false
		select {
		case <-ctx.Done():
			return
		case <-unpaused:
			resumed = true
		case <-timer.C:
			select {
			case <-unpaused: // came with the timer: the unpause's schedule wins
				resumed = true
			default:
			}
		}
		if resumed {
			hc.resume()
			timer.Reset(hc.nextWait(time.Now()))
			continue
		}
		if r, ok := hc.check(ctx); ok {
			hc.record(r)
		}
		if ctx.Err() != nil {
			return
		}
		wait := hc.nextWait(time.Now())
		if hc.idle != nil && wait >= idleAfter {
			hc.idle()
		}
		timer.Reset(wait)
	}
}

// resume starts the checks again after an unpause as docker's new monitor starts: its
// schedule from now (the caller's), from the status the pause left, unhealthy (moby's
// CloseMonitorChannel; recorded), which is checked at the interval even within the start
// period, the start interval being a starting container's. The start period still counts
// from the container's start, the failing streak and the log go on.
func (hc *healthChecker) resume() {
	if hc.recorded == nil {
		return
	}
	s, ok := hc.recorded()
	hc.mu.Lock()
	if ok && s == HealthUnhealthy && !hc.stopped {
		hc.h.Status = HealthUnhealthy
	}
	hc.mu.Unlock()
}

// check runs the probe once, bounded by the timeout, and returns its result; false when it
// did not happen (stopped meanwhile, cut by a pause, or skip says so).
func (hc *healthChecker) check(ctx context.Context) (*HealthResult, bool) {
	r := &HealthResult{Start: time.Now()}
	var out limitedBuffer
	probeCtx, cut := context.WithCancel(ctx)
	defer cut()
	paused := func() bool { return false }
	if hc.watchPause != nil {
		var stop func()
		paused, stop = hc.watchPause(ctx, cut)
		defer stop()
	}
	code, err := hc.probe(probeCtx, hc.t.timeout, &out)
	r.End = time.Now()
	switch {
	case ctx.Err() != nil:
		return nil, false // stopped: its result is none of the container's
	case paused():
		return nil, false // cut by a pause, killed and dropped, as docker's
	case errors.Is(err, errHealthTimeout):
		// As docker's: -1, and what it wrote before.
		r.ExitCode = -1
		r.Output = fmt.Sprintf("Health check exceeded timeout (%v)", hc.t.timeout)
		if s := out.String(); s != "" {
			r.Output += ": " + s
		}
	case err != nil:
		if hc.skip != nil && hc.skip(err) {
			return nil, false
		}
		r.ExitCode = -1
		r.Output = truncateOutput(err.Error())
	default:
		r.ExitCode = code
		r.Output = out.String()
	}
	return r, true
}

// record adds r to the health as docker's handleProbeResult does, saves it and tells a change
// of status.
func (hc *healthChecker) record(r *HealthResult) {
	hc.mu.Lock()
	if hc.stopped {
		hc.mu.Unlock()
		return
	}
	h := &hc.h
	if hc.recorded != nil {
		// The container was paused since the last result: docker's pause stopped its
		// monitor, leaving it unhealthy, and the monitor started again at the unpause goes
		// on from there (a failure short of the retries leaves it unhealthy). Only a pause
		// writes a status this checker did not.
		if s, ok := hc.recorded(); ok && s == HealthUnhealthy {
			h.Status = HealthUnhealthy
		}
	}
	old := h.Status
	h.Log = append(h.Log, r)
	if len(h.Log) > healthLogEntries {
		h.Log = append([]*HealthResult(nil), h.Log[len(h.Log)-healthLogEntries:]...)
	}
	if r.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = HealthHealthy
	} else if h.Status != HealthStarting || r.Start.Sub(hc.started) >= hc.t.startPeriod {
		// A failure within the start period of a container never healthy yet does not count.
		h.FailingStreak++
		if h.FailingStreak >= hc.t.retries {
			h.Status = HealthUnhealthy
		}
	}
	hc.save(hc.copyLocked())
	now := h.Status
	hc.mu.Unlock()
	if now != old {
		hc.event(now)
	}
}

// limitedBuffer keeps the first healthOutputMax bytes written to it, from both of a check's
// streams; its String ends in "..." when more came (moby's limitedBuffer).
type limitedBuffer struct {
	mu        sync.Mutex
	buf       []byte
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := min(healthOutputMax-len(b.buf), len(p))
	if keep > 0 {
		b.buf = append(b.buf, p[:keep]...)
	}
	if keep < len(p) {
		b.truncated = true
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return string(b.buf) + "..."
	}
	return string(b.buf)
}

// truncateOutput bounds s as a check's output is bounded.
func truncateOutput(s string) string {
	var b limitedBuffer
	_, _ = b.Write([]byte(s))
	return b.String()
}

// ReadHealth returns c's recorded health, nil when it has none: no healthcheck that runs, or
// never started with one. A container that is not running shows the status docker leaves
// when its monitor stops, unhealthy, whatever a monitor that died recorded last.
func ReadHealth(c *Container) *Health {
	if c == nil || c.Broken != nil || c.notDir || !c.Config.Healthcheck.Runs() {
		return nil
	}
	h, err := readHealthFile(c.Dir)
	if err != nil {
		return nil
	}
	if c.State.Status != StatusRunning || Paused(c) {
		// Paused: docker's pause stops the health monitor, which leaves it unhealthy.
		h.Status = HealthUnhealthy
	}
	if h.Log == nil {
		h.Log = []*HealthResult{} // docker's inspect shows [], never null
	}
	return h
}

// readHealthFile reads dir's health.json, checking it is one strata writes. The file is read
// up to healthFileMax, and only the last healthLogEntries of its Log are decoded: a health.json
// damaged or edited to hold a long Log ([{},{},...]) costs ps, inspect and the monitor that
// restarts the container no more memory than one strata writes.
func readHealthFile(dir string) (*Health, error) {
	name := filepath.Join(dir, healthFile)
	b, err := readSmallFile(name, healthFileMax)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Status        string
		FailingStreak int
		Log           []json.RawMessage
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, &decodeError{name: name, err: err}
	}
	switch raw.Status {
	case HealthStarting, HealthHealthy, HealthUnhealthy:
	default:
		return nil, fmt.Errorf("%s: status %q is none that strata records", healthFile, raw.Status)
	}
	h := Health{Status: raw.Status, FailingStreak: raw.FailingStreak}
	if raw.Log != nil {
		h.Log = []*HealthResult{}
	}
	for _, m := range raw.Log[max(len(raw.Log)-healthLogEntries, 0):] {
		var r *HealthResult
		if err := json.Unmarshal(m, &r); err != nil {
			return nil, &decodeError{name: name, err: err}
		}
		if r == nil {
			r = &HealthResult{}
		} else if len(r.Output) > healthOutputRead {
			cut := healthOutputRead
			for cut > 0 && !utf8.RuneStart(r.Output[cut]) {
				cut-- // never inside a rune
			}
			r.Output = r.Output[:cut] + "..."
		}
		h.Log = append(h.Log, r)
	}
	return &h, nil
}

// HealthString is how docker's ps shows a running container's health after "Up 3 seconds":
// "(healthy)", "(unhealthy)", "(health: starting)"; "" without one.
func HealthString(h *Health) string {
	if h == nil {
		return ""
	}
	if h.Status == HealthStarting {
		return "(health: starting)"
	}
	return "(" + h.Status + ")"
}
