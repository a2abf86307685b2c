package main

import (
	"math"
	"testing"
	"time"
)

// TestStopGrace: stop's and restart's -t, and a container's --stop-timeout, wait forever for
// any negative value, as docker's daemon does (no SIGKILL below 0); -2 and lower were refused.
// A value too big for a Duration waits forever too, rather than wrap and kill at once.
func TestStopGrace(t *testing.T) {
	forever := time.Duration(math.MaxInt64)
	for _, tt := range []struct {
		seconds int
		want    time.Duration
	}{
		{0, 0},
		{10, 10 * time.Second},
		{-1, forever},
		{-2, forever},
		{-3600, forever},
		{math.MinInt, forever},
		{math.MaxInt, forever},
	} {
		if got := stopGrace(tt.seconds); got != tt.want {
			t.Errorf("stopGrace(%d) = %v, want %v", tt.seconds, got, tt.want)
		}
	}
}
