package runner

import (
	"strings"
	"testing"
	"time"
)

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RestartPolicy
		err  string
	}{
		{"", RestartPolicy{Name: "no"}, ""},
		{"no", RestartPolicy{Name: "no"}, ""},
		{"always", RestartPolicy{Name: "always"}, ""},
		{"unless-stopped", RestartPolicy{Name: "unless-stopped"}, ""},
		{"on-failure", RestartPolicy{Name: "on-failure"}, ""},
		{"on-failure:5", RestartPolicy{Name: "on-failure", MaximumRetryCount: 5}, ""},
		{"on-failure:0", RestartPolicy{Name: "on-failure"}, ""},
		{"on-failure:", RestartPolicy{Name: "on-failure"}, ""}, // docker's CLI reads an empty count as none
		{"always:0", RestartPolicy{Name: "always"}, ""},
		{"on-failure:-1", RestartPolicy{}, "cannot be negative"},
		{"on-failure:x", RestartPolicy{}, "must be an integer"},
		{"on-failure:99999999999999999999", RestartPolicy{}, "must be an integer"},
		{"always:3", RestartPolicy{}, "only be used with 'on-failure'"},
		{"no:1", RestartPolicy{}, "only be used with 'on-failure'"},
		{":3", RestartPolicy{}, "no policy provided"},
		{"Always", RestartPolicy{}, "unknown policy"},
		{"sometimes", RestartPolicy{}, "unknown policy"},
		{strings.Repeat("x", 5000), RestartPolicy{}, "unknown policy"},
		{"\x1b[2J", RestartPolicy{}, `"\x1b[2J"`},
	} {
		got, err := ParseRestartPolicy(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseRestartPolicy(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseRestartPolicy(%q) error %v, want one with %q", tc.in, err, tc.err)
		case err != nil && (len(err.Error()) > 300 || strings.Contains(err.Error(), "\n")):
			t.Errorf("ParseRestartPolicy(%q): error not one short line: %q", tc.in, err)
		}
	}
}

// TestShouldRestart is docker's restartmanager.ShouldRestart table.
func TestShouldRestart(t *testing.T) {
	always := RestartPolicy{Name: RestartAlways}
	unless := RestartPolicy{Name: RestartUnlessStopped}
	onFail := RestartPolicy{Name: RestartOnFailure}
	onFail2 := RestartPolicy{Name: RestartOnFailure, MaximumRetryCount: 2}
	for _, tc := range []struct {
		p       RestartPolicy
		code, n int
		stopped stopKind
		want    bool
	}{
		{RestartPolicy{Name: RestartNo}, 1, 0, notStopped, false},
		{RestartPolicy{}, 1, 0, notStopped, false},
		{always, 0, 100, notStopped, true},
		{always, 0, 0, stoppedByHand, true},
		{always, 1, 0, restartCanceled, false},
		{unless, 0, 0, notStopped, true},
		{unless, 0, 0, stoppedByHand, false},
		{unless, 1, 0, restartCanceled, false},
		{onFail, 0, 0, notStopped, false},
		{onFail, 3, 1000, notStopped, true},
		{onFail2, 3, 0, notStopped, true},
		{onFail2, 3, 1, notStopped, true},
		{onFail2, 3, 2, notStopped, false},
		{onFail2, 137, 0, restartCanceled, false},
	} {
		if got := tc.p.shouldRestart(tc.code, tc.n, tc.stopped); got != tc.want {
			t.Errorf("%+v.shouldRestart(code %d, count %d, stopped %d) = %v, want %v", tc.p, tc.code, tc.n, tc.stopped, got, tc.want)
		}
	}
}

// TestNextRestartDelay is docker's backoff: 100 ms doubled up to a minute, reset after 10 s.
func TestNextRestartDelay(t *testing.T) {
	d := time.Duration(0)
	var got []time.Duration
	for range 12 {
		d = nextRestartDelay(d, time.Second)
		got = append(got, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
	if d := nextRestartDelay(time.Minute, 10*time.Second); d != restartFirstDelay {
		t.Errorf("after a 10 s run: %v, want %v", d, restartFirstDelay)
	}
}
