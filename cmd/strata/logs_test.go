package main

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
)

// TestParseTail: as docker's daemon, a value that is not a number, or a negative one, means
// all (0 here), not an error.
func TestParseTail(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"all", 0},
		{"0", runner.TailNone},
		{"1", 1},
		{"+2", 2},
		{"250", 250},
		{"-1", 0},
		{"", 0},
		{"ten", 0},
		{"3x", 0},
		{" 3", 0},
		{"99999999999999999999", 0},
	}
	for _, tt := range tests {
		if got := parseTail(tt.in); got != tt.want {
			t.Errorf("parseTail(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseLogTime(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"42m", now.Add(-42 * time.Minute)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"-5m", now.Add(5 * time.Minute)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.5", time.Unix(1700000000, 500000000)},
		{"2026-11-28T10:00:00Z", time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)},
		{"2026-11-28T10:00:00.25+01:00", time.Date(2026, 11, 28, 9, 0, 0, 250000000, time.UTC)},
		{"2026-11-28T10:00:00", time.Date(2026, 11, 28, 10, 0, 0, 0, time.Local)},
		{"2026-11-28", time.Date(2026, 11, 28, 0, 0, 0, 0, time.Local)},
	}
	for _, tt := range tests {
		got, err := parseLogTime("--since", tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseLogTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "-5", "2026-13-01", "12.x", "1e9", "99999999999999999999"} {
		if _, err := parseLogTime("--since", bad, now); err == nil || !strings.Contains(err.Error(), "--since") {
			t.Errorf("parseLogTime(%q) = %v, want an error naming --since", bad, err)
		}
	}
}
