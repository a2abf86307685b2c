package runner

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestValidateHealthConfig(t *testing.T) {
	tests := []struct {
		h    *HealthConfig
		want string // "" for none
	}{
		{h: nil},
		{h: &HealthConfig{}},
		{h: &HealthConfig{Interval: time.Millisecond, Timeout: time.Millisecond, StartPeriod: time.Millisecond, StartInterval: time.Millisecond}},
		{h: &HealthConfig{Interval: 999 * time.Microsecond}, want: "Interval in Healthcheck cannot be less than 1ms"},
		{h: &HealthConfig{Interval: -time.Second}, want: "Interval in Healthcheck cannot be less than 1ms"},
		{h: &HealthConfig{Timeout: time.Nanosecond}, want: "Timeout in Healthcheck cannot be less than 1ms"},
		{h: &HealthConfig{Retries: -1}, want: "Retries in Healthcheck cannot be negative"},
		{h: &HealthConfig{StartPeriod: 100 * time.Microsecond}, want: "StartPeriod in Healthcheck cannot be less than 1ms"},
		{h: &HealthConfig{StartInterval: 100 * time.Microsecond}, want: "StartInterval in Healthcheck cannot be less than 1ms"},
	}
	for _, tt := range tests {
		err := ValidateHealthConfig(tt.h)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("ValidateHealthConfig(%+v) = %q, want %q", tt.h, got, tt.want)
		}
	}
}

func TestMergeHealthConfig(t *testing.T) {
	image := &HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Minute, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}
	tests := []struct {
		name        string
		user, image *HealthConfig
		want        *HealthConfig
	}{
		{name: "neither", want: nil},
		{name: "image only", image: image, want: image},
		{name: "flags only", user: &HealthConfig{Test: []string{"CMD-SHELL", "x"}}, want: &HealthConfig{Test: []string{"CMD-SHELL", "x"}}},
		{name: "flags over the image, zero fields the image's",
			user:  &HealthConfig{Test: []string{"CMD-SHELL", "x"}, Interval: time.Second},
			image: image,
			want:  &HealthConfig{Test: []string{"CMD-SHELL", "x"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}},
		{name: "timings only keep the image's test",
			user:  &HealthConfig{Retries: 1},
			image: image,
			want:  &HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Minute, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 1}},
		{name: "--no-healthcheck over the image",
			user:  &HealthConfig{Test: []string{"NONE"}},
			image: image,
			want:  &HealthConfig{Test: []string{"NONE"}, Interval: time.Minute, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MergeHealthConfig(tt.user, tt.image)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MergeHealthConfig(%+v, %+v) = %+v, want %+v", tt.user, tt.image, got, tt.want)
			}
			if got.Runs() != (got != nil && got.Test[0] != "NONE") {
				t.Errorf("MergeHealthConfig(%+v, %+v).Runs() = %v", tt.user, tt.image, got.Runs())
			}
		})
	}
}

func TestHealthConfigRuns(t *testing.T) {
	tests := []struct {
		test []string
		want bool
	}{
		{nil, false},
		{[]string{}, false},
		{[]string{"NONE"}, false},
		{[]string{"BOGUS", "x"}, false},
		{[]string{"CMD", "true"}, true},
		{[]string{"CMD-SHELL", "true"}, true},
	}
	for _, tt := range tests {
		if got := (&HealthConfig{Test: tt.test}).Runs(); got != tt.want {
			t.Errorf("HealthConfig{Test: %q}.Runs() = %v, want %v", tt.test, got, tt.want)
		}
	}
}

// TestHealthTimings: zero is docker's default; what docker's daemon refuses but an image may
// carry (negative, below 1ms) never makes the checks run back to back.
func TestHealthTimings(t *testing.T) {
	got := timingsOf(&HealthConfig{})
	want := healthTimings{interval: 30 * time.Second, timeout: 30 * time.Second, startInterval: 5 * time.Second, retries: 3}
	if got != want {
		t.Errorf("timingsOf(zero) = %+v, want %+v", got, want)
	}
	got = timingsOf(&HealthConfig{Interval: -time.Second, Timeout: time.Nanosecond, StartPeriod: -time.Second, StartInterval: -1, Retries: -4})
	want = healthTimings{interval: 30 * time.Second, timeout: time.Millisecond, startInterval: 5 * time.Second, retries: 3}
	if got != want {
		t.Errorf("timingsOf(hostile) = %+v, want %+v", got, want)
	}
}

// TestHealthNextWait is moby's getInterval: the start interval while starting in the start
// period, also when the period is shorter than the interval (a start period of 2s checked
// every 100ms, then every 30s), but no longer than what is left of the period, as since moby
// PR #52317 (moby issue #46747's start period of 2s, start interval of 30s and interval of
// 2s: checked as the period ends, not 30s after the start); the interval after, and for a
// status other than starting, which is not cut to the period.
func TestHealthNextWait(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		cfg    HealthConfig
		at     time.Duration
		status string
		want   time.Duration
	}{
		{nwLong, 0, HealthStarting, time.Second},
		{nwLong, 30 * time.Second, HealthStarting, time.Second},
		{nwLong, 30 * time.Second, HealthHealthy, 10 * time.Second},
		{nwLong, 59*time.Second + 500*time.Millisecond, HealthStarting, 500 * time.Millisecond},
		{nwLong, 60 * time.Second, HealthStarting, 10 * time.Second},
		{nwLong, 90 * time.Second, HealthUnhealthy, 10 * time.Second},
		{nwShort, 0, HealthStarting, 100 * time.Millisecond},
		{nwShort, 1900 * time.Millisecond, HealthStarting, 100 * time.Millisecond},
		{nwShort, time.Second, HealthHealthy, 30 * time.Second},
		{nwShort, 2 * time.Second, HealthStarting, 30 * time.Second},
		{HealthConfig{StartPeriod: 10 * time.Second}, 0, HealthStarting, DefaultHealthStartInterval},
		{HealthConfig{StartPeriod: 3 * time.Second}, 0, HealthStarting, 3 * time.Second}, // the default 5s start interval
		{nw46747, 0, HealthStarting, 2 * time.Second},
		{nw46747, 1500 * time.Millisecond, HealthStarting, 500 * time.Millisecond},
		{nw46747, 2 * time.Second, HealthStarting, 2 * time.Second},
		{nwSlow, 59 * time.Second, HealthHealthy, time.Minute},
		{nwSlow, 59 * time.Second, HealthUnhealthy, time.Minute},
	}
	for _, tt := range tests {
		hc := newHealthChecker(&tt.cfg, start, Health{}, nil)
		hc.h.Status = tt.status
		if got := hc.nextWait(start.Add(tt.at)); got != tt.want {
			t.Errorf("%+v: nextWait(%v after start, %s) = %v, want %v", tt.cfg, tt.at, tt.status, got, tt.want)
		}
	}
}

// TestHealthCheckerResume: at an unpause the checks go on from the status the pause recorded,
// unhealthy, as docker's new monitor does: the interval, not the start interval, within the
// start period. A status recorded otherwise (no pause wrote it) is kept, and so is the streak.
func TestHealthCheckerResume(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, tt := range []struct {
		recorded string
		status   string
		wait     time.Duration
	}{
		{HealthUnhealthy, HealthUnhealthy, 10 * time.Second},
		{HealthHealthy, HealthStarting, time.Second},
		{"", HealthStarting, time.Second}, // none read
	} {
		hc := newHealthChecker(&nwLong, start, Health{}, nil)
		hc.h.FailingStreak = 2
		hc.recorded = func() (string, bool) { return tt.recorded, tt.recorded != "" }
		hc.resume()
		if h := hc.health(); h.Status != tt.status || h.FailingStreak != 2 {
			t.Errorf("recorded %q: health after resume = %+v, want %s, streak 2", tt.recorded, h, tt.status)
		}
		if got := hc.nextWait(start.Add(30 * time.Second)); got != tt.wait {
			t.Errorf("recorded %q: nextWait within the start period after resume = %v, want %v", tt.recorded, got, tt.wait)
		}
	}
}

var (
	nwLong  = HealthConfig{Interval: 10 * time.Second, StartPeriod: 60 * time.Second, StartInterval: time.Second}
	nwShort = HealthConfig{Interval: 30 * time.Second, StartPeriod: 2 * time.Second, StartInterval: 100 * time.Millisecond}
	nw46747 = HealthConfig{Interval: 2 * time.Second, StartPeriod: 2 * time.Second, StartInterval: 30 * time.Second}
	nwSlow  = HealthConfig{Interval: time.Minute, StartPeriod: time.Minute, StartInterval: time.Second}
)

// fakeChecks is a healthChecker over a fake probe: each check takes the next of codes (a
// probe blocks on an entry of -2 until its ctx ends), and every save and event is sent on.
type fakeChecks struct {
	hc     *healthChecker
	saves  chan Health
	events chan string
	probed chan struct{} // a check began
	idles  chan struct{} // idle ran
}

func newFakeChecks(t *testing.T, cfg *HealthConfig, prev Health, results ...fakeResult) *fakeChecks {
	t.Helper()
	f := &fakeChecks{saves: make(chan Health, 100), events: make(chan string, 100), probed: make(chan struct{}, 100), idles: make(chan struct{}, 100)}
	i := 0
	f.hc = newHealthChecker(cfg, time.Now(), prev, func(ctx context.Context, timeout time.Duration, out *limitedBuffer) (int, error) {
		f.probed <- struct{}{}
		r := fakeResult{code: 0}
		if i < len(results) {
			r = results[i]
		}
		i++
		_, _ = out.Write([]byte(r.out))
		if r.block {
			select {
			case <-ctx.Done():
				return 137, nil
			case <-time.After(timeout):
				return 137, errHealthTimeout
			}
		}
		return r.code, r.err
	})
	f.hc.save = func(h Health) { f.saves <- h }
	f.hc.event = func(s string) { f.events <- s }
	f.hc.skip = func(err error) bool { return errors.Is(err, ErrPaused) }
	f.hc.idle = func() { f.idles <- struct{}{} }
	f.hc.start()
	t.Cleanup(f.hc.stop)
	if h := f.nextSave(t); h.Status != HealthStarting || h.FailingStreak != 0 {
		t.Fatalf("first record = %+v, want starting with no streak", h)
	}
	return f
}

type fakeResult struct {
	code  int
	out   string
	err   error
	block bool
}

func (f *fakeChecks) nextSave(t *testing.T) Health {
	t.Helper()
	select {
	case h := <-f.saves:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no health recorded in 10s")
	}
	return Health{}
}

func (f *fakeChecks) nextEvent(t *testing.T) string {
	t.Helper()
	select {
	case s := <-f.events:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no health event in 10s")
	}
	return ""
}

func TestHealthCheckerHealthy(t *testing.T) {
	f := newFakeChecks(t, &HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Millisecond}, Health{}, fakeResult{code: 0, out: "ok\n"})
	h := f.nextSave(t)
	if h.Status != HealthHealthy || h.FailingStreak != 0 || len(h.Log) != 1 || h.Log[0].ExitCode != 0 || h.Log[0].Output != "ok\n" {
		t.Fatalf("after a passing check = %+v, want healthy with its result", h)
	}
	if h.Log[0].End.Before(h.Log[0].Start) {
		t.Errorf("result ends (%v) before it starts (%v)", h.Log[0].End, h.Log[0].Start)
	}
	if e := f.nextEvent(t); e != HealthHealthy {
		t.Errorf("event = %q, want healthy", e)
	}
}

// TestHealthCheckerUnhealthy: failures (exit 1, or any status but 0) add to the streak, which
// makes the container unhealthy at the retries; one pass ends it. The log keeps the last 5.
func TestHealthCheckerUnhealthy(t *testing.T) {
	f := newFakeChecks(t, &HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Millisecond, Retries: 3}, Health{},
		fakeResult{code: 1}, fakeResult{code: 2}, fakeResult{code: 1, out: "down"}, fakeResult{code: 1}, fakeResult{code: 1}, fakeResult{code: 1}, fakeResult{code: 0})
	wantStatus := []string{HealthStarting, HealthStarting, HealthUnhealthy, HealthUnhealthy, HealthUnhealthy, HealthUnhealthy, HealthHealthy}
	wantStreak := []int{1, 2, 3, 4, 5, 6, 0}
	for i := range wantStatus {
		h := f.nextSave(t)
		if h.Status != wantStatus[i] || h.FailingStreak != wantStreak[i] {
			t.Fatalf("after check %d: %s, streak %d; want %s, streak %d", i+1, h.Status, h.FailingStreak, wantStatus[i], wantStreak[i])
		}
		if want := min(i+1, healthLogEntries); len(h.Log) != want {
			t.Fatalf("after check %d: %d results logged, want %d", i+1, len(h.Log), want)
		}
		if i == 6 && h.Log[0].Output != "down" {
			t.Errorf("oldest result kept after 7 checks = %+v, want the third", h.Log[0])
		}
	}
	for _, want := range []string{HealthUnhealthy, HealthHealthy} {
		if e := f.nextEvent(t); e != want {
			t.Errorf("event = %q, want %q", e, want)
		}
	}
}

// TestHealthCheckerStartPeriod: failures within the start period do not count while the
// container was never healthy.
func TestHealthCheckerStartPeriod(t *testing.T) {
	f := newFakeChecks(t, &HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Millisecond, StartInterval: time.Millisecond, StartPeriod: time.Hour, Retries: 1}, Health{},
		fakeResult{code: 1}, fakeResult{code: 1}, fakeResult{code: 0}, fakeResult{code: 1})
	for i, want := range []struct {
		status string
		streak int
	}{{HealthStarting, 0}, {HealthStarting, 0}, {HealthHealthy, 0}, {HealthUnhealthy, 1}} {
		h := f.nextSave(t)
		if h.Status != want.status || h.FailingStreak != want.streak {
			t.Fatalf("after check %d: %s, streak %d; want %s, streak %d", i+1, h.Status, h.FailingStreak, want.status, want.streak)
		}
	}
}

// TestHealthCheckerTimeout: a check past its timeout is ended and fails with -1 and docker's
// words, with what it wrote; an error that kept it from running fails with -1 and the error.
func TestHealthCheckerTimeout(t *testing.T) {
	f := newFakeChecks(t, &HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Millisecond, Timeout: 5 * time.Millisecond}, Health{},
		fakeResult{block: true, out: "partial"}, fakeResult{err: errors.New(`exec: "/bin/sh": no such file or directory`)})
	h := f.nextSave(t)
	if r := h.Log[0]; r.ExitCode != -1 || r.Output != "Health check exceeded timeout (5ms): partial" {
		t.Errorf("timed out check = %+v, want -1 and docker's timeout message", r)
	}
	h = f.nextSave(t)
	if r := h.Log[1]; r.ExitCode != -1 || !strings.Contains(r.Output, "/bin/sh") {
		t.Errorf("check that could not run = %+v, want -1 and its error", r)
	}
	if h.FailingStreak != 2 {
		t.Errorf("streak = %d, want 2", h.FailingStreak)
	}
}

// TestHealthCheckerSkips: a check that did not happen (the container paused) is not recorded.
func TestHealthCheckerSkips(t *testing.T) {
	f := newFakeChecks(t, &HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Millisecond}, Health{},
		fakeResult{err: ErrPaused}, fakeResult{err: ErrPaused}, fakeResult{code: 1})
	h := f.nextSave(t)
	if len(h.Log) != 1 || h.Log[0].ExitCode != 1 || h.FailingStreak != 1 {
		t.Errorf("after two skipped checks and a failure = %+v, want the failure alone", h)
	}
}

// TestHealthCheckerStop: stop returns while a check hangs (it is ended, not waited for) and
// records unhealthy, keeping the log, as docker leaves a stopped container's health; nothing
// is recorded after it.
func TestHealthCheckerStop(t *testing.T) {
	f := newFakeChecks(t, &HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Millisecond}, Health{},
		fakeResult{code: 0}, fakeResult{block: true})
	if h := f.nextSave(t); h.Status != HealthHealthy {
		t.Fatalf("after a pass = %+v, want healthy", h)
	}
	<-f.probed
	<-f.probed // the second check hangs now
	f.hc.stop()
	h := f.nextSave(t)
	if h.Status != HealthUnhealthy || len(h.Log) != 1 {
		t.Errorf("record at stop = %+v, want unhealthy with the one result", h)
	}
	f.hc.stop() // twice is once
	f.hc.record(&HealthResult{ExitCode: 0})
	select {
	case h := <-f.saves:
		t.Errorf("recorded after stop: %+v", h)
	default:
	}
}

// TestHealthCheckerKeepsLog: a new run starts from the last run's log, as docker keeps it,
// starting again with no streak.
func TestHealthCheckerKeepsLog(t *testing.T) {
	var prev Health
	for i := range 7 {
		prev.Log = append(prev.Log, &HealthResult{ExitCode: i})
	}
	prev.Status, prev.FailingStreak = HealthUnhealthy, 7
	f := newFakeChecks(t, &HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Hour}, prev)
	h := f.hc.health()
	if h.Status != HealthStarting || h.FailingStreak != 0 || len(h.Log) != healthLogEntries || h.Log[0].ExitCode != 2 {
		t.Errorf("health at a new start = %+v, want starting, no streak, the last 5 results", h)
	}
}

func TestLimitedBuffer(t *testing.T) {
	var b limitedBuffer
	chunk := strings.Repeat("y\n", 1000)
	for range 10 {
		if n, err := b.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(chunk))
		}
	}
	got := b.String()
	if len(got) != healthOutputMax+3 || !strings.HasSuffix(got, "...") {
		t.Errorf("String() is %d bytes ending %q, want %d ending ...", len(got), got[len(got)-5:], healthOutputMax+3)
	}
	var small limitedBuffer
	_, _ = small.Write([]byte("ok"))
	if small.String() != "ok" {
		t.Errorf("String() = %q, want ok", small.String())
	}
}

func TestHealthString(t *testing.T) {
	for _, tt := range []struct {
		h    *Health
		want string
	}{{nil, ""}, {&Health{Status: HealthStarting}, "(health: starting)"}, {&Health{Status: HealthHealthy}, "(healthy)"}, {&Health{Status: HealthUnhealthy}, "(unhealthy)"}} {
		if got := HealthString(tt.h); got != tt.want {
			t.Errorf("HealthString(%+v) = %q, want %q", tt.h, got, tt.want)
		}
	}
}

// TestReadHealth: health.json is read only for a container whose healthcheck runs, only as
// strata writes it (a damaged or foreign file shows no health, never an error), and a
// container that does not run shows unhealthy, as docker leaves it.
func TestReadHealth(t *testing.T) {
	dir := t.TempDir()
	c := &Container{ID: strings.Repeat("a", 64), Dir: dir, State: State{Status: StatusRunning}}
	c.Config.Healthcheck = &HealthConfig{Test: []string{"CMD-SHELL", "true"}}
	write := func(s string) {
		t.Helper()
		if err := writeFileReplace(dir+"/"+healthFile, []byte(s), 0o600, false); err != nil {
			t.Fatal(err)
		}
	}
	if h := ReadHealth(c); h != nil {
		t.Errorf("ReadHealth without health.json = %+v, want nil", h)
	}
	write(`{"Status":"healthy","FailingStreak":0,"Log":null}`)
	if h := ReadHealth(c); h == nil || h.Status != HealthHealthy || h.Log == nil {
		t.Errorf("ReadHealth = %+v, want healthy with an empty log", h)
	}
	c.State.Status = StatusExited
	if h := ReadHealth(c); h == nil || h.Status != HealthUnhealthy {
		t.Errorf("ReadHealth of an exited container = %+v, want unhealthy", h)
	}
	c.State.Status = StatusRunning
	for _, bad := range []string{``, `null`, `{"Status":"bogus"}`, `{"Status":"healthy","Log":"x"}`, `[1]`} {
		write(bad)
		if h := ReadHealth(c); h != nil {
			t.Errorf("ReadHealth of %q = %+v, want nil", bad, h)
		}
	}
	write(`{"Status":"healthy","Log":[{},{},{},{},{},null,{"Output":"` + strings.Repeat("x", 10000) + `"}]}`)
	if h := ReadHealth(c); h == nil || len(h.Log) != healthLogEntries || h.Log[3] == nil || len(h.Log[4].Output) != healthOutputRead+3 {
		t.Errorf("ReadHealth of an oversized record = %+v, want it bounded", h)
	}
	c.Config.Healthcheck = &HealthConfig{Test: []string{"NONE"}}
	write(`{"Status":"healthy"}`)
	if h := ReadHealth(c); h != nil {
		t.Errorf("ReadHealth with HEALTHCHECK NONE = %+v, want nil", h)
	}
}

// TestHealthCheckerIdle: the checker trims its memory (idle) after a check that a long wait
// follows, never between checks close together.
func TestHealthCheckerIdle(t *testing.T) {
	f := newFakeChecks(t, &HealthConfig{Test: []string{"CMD", "x"}, StartPeriod: 2 * time.Hour, StartInterval: time.Millisecond, Interval: time.Hour},
		Health{}, fakeResult{code: 1}, fakeResult{code: 1}, fakeResult{code: 0})
	for range 2 {
		f.nextSave(t) // starting: the next check a millisecond away
	}
	if h := f.nextSave(t); h.Status != HealthHealthy {
		t.Fatalf("after a pass = %+v, want healthy", h)
	}
	select {
	case <-f.idles:
	case <-time.After(10 * time.Second):
		t.Fatal("no idle before an hour's wait")
	}
	if n := len(f.idles); n != 0 {
		t.Errorf("idle ran %d more times, want once", n)
	}
}

// TestReadHealthBounded: a health.json damaged or edited to hold a long Log costs its reader
// (ps, inspect, a restarting monitor) little memory: one larger than any strata writes is
// refused unread, and of a Log within that size only the last entries are decoded. The
// largest health.json strata writes (five outputs of escaped NULs) still reads back whole.
func TestReadHealthBounded(t *testing.T) {
	dir := t.TempDir()
	c := &Container{ID: strings.Repeat("a", 64), Dir: dir, State: State{Status: StatusRunning}}
	c.Config.Healthcheck = &HealthConfig{Test: []string{"CMD-SHELL", "true"}}
	write := func(b []byte) {
		t.Helper()
		if err := writeFileReplace(filepath.Join(dir, healthFile), b, 0o600, false); err != nil {
			t.Fatal(err)
		}
	}
	longLog := func(size int) []byte {
		b := []byte(`{"Status":"healthy","Log":[{}`)
		for len(b) < size-100 {
			b = append(b, ",{}"...)
		}
		return append(b, `,{"ExitCode":7}]}`...)
	}
	allocs := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	const most = 16 << 20
	write(longLog(16 << 20))
	var h *Health
	if n := allocs(func() { h = ReadHealth(c) }); n > most || h != nil {
		t.Errorf("ReadHealth of a 16 MiB health.json allocated %d bytes and gave %+v; want nil, at most %d bytes", n, h, most)
	}
	write(longLog(healthFileMax))
	if n := allocs(func() { h = ReadHealth(c) }); n > most || h == nil || len(h.Log) != healthLogEntries || h.Log[4].ExitCode != 7 {
		t.Errorf("ReadHealth of a long Log allocated %d bytes and gave %+v; want its last %d entries, at most %d bytes", n, h, healthLogEntries, most)
	}

	var full Health
	full.Status = HealthUnhealthy
	for range healthLogEntries {
		var out limitedBuffer
		_, _ = out.Write(make([]byte, 2*healthOutputMax))
		full.Log = append(full.Log, &HealthResult{ExitCode: -1, Output: "Health check exceeded timeout (2562047h47m16.854775807s): " + out.String()})
	}
	if err := writeJSON(filepath.Join(dir, healthFile), full, false); err != nil {
		t.Fatal(err)
	}
	if h = ReadHealth(c); h == nil || len(h.Log) != healthLogEntries || h.Log[0].Output != full.Log[0].Output {
		t.Errorf("ReadHealth of the largest health.json strata writes = %v, want it whole", h)
	}
}

// TestHealthCheckerAfterPause: a pause records the container unhealthy (markHealthPaused), as
// docker's pause leaves it; the checker's next result starts from that: a failure short of
// the retries leaves it unhealthy, a pass makes it healthy again and says so.
func TestHealthCheckerAfterPause(t *testing.T) {
	results := []int{0, 1, 0}
	probed := 0
	gate := make(chan struct{}) // the second check waits for the pause
	hc := newHealthChecker(&HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Millisecond, Retries: 100}, time.Now(), Health{},
		func(ctx context.Context, timeout time.Duration, out *limitedBuffer) (int, error) {
			code := 0
			if probed < len(results) {
				code = results[probed]
			}
			if probed == 1 {
				<-gate
			}
			probed++
			return code, nil
		})
	saves, events := make(chan Health, 100), make(chan string, 100)
	var mu sync.Mutex
	disk := ""
	hc.save = func(h Health) { mu.Lock(); disk = h.Status; mu.Unlock(); saves <- h }
	hc.event = func(s string) { events <- s }
	hc.recorded = func() (string, bool) { mu.Lock(); defer mu.Unlock(); return disk, disk != "" }
	next := func() Health {
		select {
		case h := <-saves:
			return h
		case <-time.After(10 * time.Second):
			t.Fatal("no health recorded in 10s")
		}
		return Health{}
	}
	hc.start()
	t.Cleanup(hc.stop)
	next() // starting
	if h := next(); h.Status != HealthHealthy {
		t.Fatalf("after a pass = %+v, want healthy", h)
	}
	mu.Lock()
	disk = HealthUnhealthy // paused and unpaused meanwhile
	mu.Unlock()
	close(gate)
	if h := next(); h.Status != HealthUnhealthy || h.FailingStreak != 1 {
		t.Errorf("after the pause and a failure = %+v, want unhealthy, streak 1", h)
	}
	if h := next(); h.Status != HealthHealthy {
		t.Errorf("after a pass = %+v, want healthy", h)
	}
	var got []string
	for len(events) > 0 {
		got = append(got, <-events)
	}
	if !slices.Equal(got, []string{HealthHealthy, HealthHealthy}) {
		t.Errorf("events %q, want healthy, then healthy again after the pause", got)
	}
}

// TestHealthCheckerPauseCut: a check that a pause cuts (watchPause calls cut: its probe's
// context ends, which kills it) is dropped, as docker's pause cancels the check under way and
// drops its result: the log and the failing streak go on from the check before.
func TestHealthCheckerPauseCut(t *testing.T) {
	var paused atomic.Bool
	cuts := make(chan func(), 10)
	probes := make(chan int, 10)
	n := 0
	hc := newHealthChecker(&HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Millisecond}, time.Now(), Health{},
		func(ctx context.Context, timeout time.Duration, out *limitedBuffer) (int, error) {
			n++
			select {
			case probes <- n:
			default: // the test waits for the first three
			}
			if n == 2 {
				<-ctx.Done() // killed by the cut
				return 137, nil
			}
			return 1, nil
		})
	saves := make(chan Health, 100)
	hc.save = func(h Health) { saves <- h }
	hc.watchPause = func(_ context.Context, cut func()) (func() bool, func()) {
		select {
		case cuts <- cut:
		default:
		}
		return paused.Load, func() {}
	}
	hc.start()
	t.Cleanup(hc.stop)
	next := func() int {
		select {
		case n := <-probes:
			return n
		case <-time.After(10 * time.Second):
			t.Fatal("no check in 10s")
		}
		return 0
	}
	<-saves // starting
	next()
	<-cuts
	next() // the second check hangs now
	paused.Store(true)
	(<-cuts)()
	next() // the third check: the pause is over
	paused.Store(false)
	var h Health
	for h = range saves {
		if len(h.Log) >= 2 {
			break
		}
	}
	if len(h.Log) != 2 || h.Log[0].ExitCode != 1 || h.Log[1].ExitCode != 1 || h.FailingStreak != 2 {
		t.Errorf("after a failure, a check cut by a pause and a failure = %+v, want the two failures, streak 2", h)
	}
}
