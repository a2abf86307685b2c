package main

import (
	"testing"

	"github.com/strata-run/strata/runner"
)

func TestParseTail(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"all", 0, false},
		{"0", runner.TailNone, false},
		{"1", 1, false},
		{"250", 250, false},
		{"-1", 0, true},
		{"", 0, true},
		{"ten", 0, true},
		{"3x", 0, true},
	}
	for _, tt := range tests {
		got, err := parseTail(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseTail(%q) = %d, %v, want %d (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
