package runner

import (
	"strconv"
	"strings"
	"testing"
)

// TestValidateInitPids: a --pids-limit under what --init's reaper and its command need is
// refused before anything is created; without --init, or without a limit, any is taken.
func TestValidateInitPids(t *testing.T) {
	want := "--init needs --pids-limit of at least " + strconv.Itoa(minInitPidsLimit) + " (the reaper's threads count toward it)"
	tests := []struct {
		init  bool
		limit int64
		ok    bool
	}{
		{true, 1, false},
		{true, 2, false},
		{true, minInitPidsLimit - 1, false},
		{true, minInitPidsLimit, true},
		{true, minInitPidsLimit + 100, true},
		{true, 0, true},  // no limit
		{true, -1, true}, // docker's unlimited
		{false, 1, true},
		{false, minInitPidsLimit - 1, true},
	}
	for _, tt := range tests {
		s := Spec{Args: []string{"true"}, Init: tt.init}
		s.Resources.PidsLimit = tt.limit
		err := s.withDefaults().validateInput()
		if tt.ok && err != nil {
			t.Errorf("init %v, pids-limit %d: %v, want it taken", tt.init, tt.limit, err)
		}
		if !tt.ok && (err == nil || err.Error() != want) {
			t.Errorf("init %v, pids-limit %d: %v, want %q", tt.init, tt.limit, err, want)
		}
		if !tt.ok && strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q is not one line", err)
		}
	}
}
