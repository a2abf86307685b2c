package main

import (
	"testing"
	"time"
)

// TestParseLogTimeDockerLayouts: --since and --until take every form docker's GetTimestamp
// does, a time to the minute or the hour and a date, with a zone or without one (then
// local); those with a zone, and those to the hour, were refused as invalid.
func TestParseLogTimeDockerLayouts(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	plus1 := time.FixedZone("", 3600)
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-28T10", time.Date(2026, 11, 28, 10, 0, 0, 0, time.Local)},
		{"2026-11-28T10Z", time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)},
		{"2026-11-28T10+01:00", time.Date(2026, 11, 28, 10, 0, 0, 0, plus1)},
		{"2026-11-28T10:30", time.Date(2026, 11, 28, 10, 30, 0, 0, time.Local)},
		{"2026-11-28T10:30Z", time.Date(2026, 11, 28, 10, 30, 0, 0, time.UTC)},
		{"2026-11-28T10:30+01:00", time.Date(2026, 11, 28, 10, 30, 0, 0, plus1)},
		{"2026-11-28T10:30:15.5", time.Date(2026, 11, 28, 10, 30, 15, 500000000, time.Local)},
		{"2026-11-28Z", time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		{"2026-11-28+01:00", time.Date(2026, 11, 28, 0, 0, 0, 0, plus1)},
	} {
		got, err := parseLogTime("--until", tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseLogTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"2026-11-28T", "2026-11-28T10:3", "2026-11-28X", "2026-11-28T10Q"} {
		if _, err := parseLogTime("--until", bad, now); err == nil {
			t.Errorf("parseLogTime(%q) = no error, want one", bad)
		}
	}
}
