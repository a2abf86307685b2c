package main

import (
	"testing"
	"time"
)

// TestParseLogTimeZero: --since 0 is the Unix time 0, as docker's: every line, not none.
func TestParseLogTimeZero(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for _, s := range []string{"0", "0.0"} {
		got, err := parseLogTime("--since", s, now)
		if err != nil || !got.Equal(time.Unix(0, 0)) {
			t.Errorf("parseLogTime(%q) = %v, %v; want the Unix time 0", s, got, err)
		}
	}
	if got, err := parseLogTime("--since", "0s", now); err != nil || !got.Equal(now) {
		t.Errorf("parseLogTime(0s) = %v, %v; want now", got, err)
	}
}

// TestParseLogTimeUntilZero: --until 0 is no bound, as docker's daemon reads it (its logs
// --until 0 prints every line), where it was the Unix time 0, before every line; any other
// spelling of 0 stays that time, as there.
func TestParseLogTimeUntilZero(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	if got, err := parseLogTime("--until", "0", now); err != nil || !got.IsZero() {
		t.Errorf("parseLogTime(--until 0) = %v, %v; want no bound", got, err)
	}
	for _, s := range []string{"00", "0.0"} {
		if got, err := parseLogTime("--until", s, now); err != nil || !got.Equal(time.Unix(0, 0)) {
			t.Errorf("parseLogTime(--until %s) = %v, %v; want the Unix time 0", s, got, err)
		}
	}
	if got, err := parseLogTime("--until", "0s", now); err != nil || !got.Equal(now) {
		t.Errorf("parseLogTime(--until 0s) = %v, %v; want now", got, err)
	}
}

// TestParseLogTimeNegativeDuration: a negative duration is a time to come, as docker's
// GetTimestamp reads it (reference.Add(-d)): `logs -f --until -10s` follows for ten seconds
// more, `events --until -1m` for a minute. strata refused it.
func TestParseLogTimeNegativeDuration(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for _, flag := range []string{"--since", "--until", "--filter until"} {
		for s, want := range map[string]time.Time{"-10s": now.Add(10 * time.Second), "-1m30s": now.Add(90 * time.Second), "-0s": now} {
			if got, err := parseLogTime(flag, s, now); err != nil || !got.Equal(want) {
				t.Errorf("parseLogTime(%s %s) = %v, %v; want %v", flag, s, got, err, want)
			}
		}
	}
	// A time with a minus sign that does not parse stays refused, as docker's does.
	for _, s := range []string{"-5", "-1h-", "--1s"} {
		if _, err := parseLogTime("--since", s, now); err == nil {
			t.Errorf("parseLogTime(--since %s) took it", s)
		}
	}
}
