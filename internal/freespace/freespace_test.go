package freespace

import "testing"

func TestFloor(t *testing.T) {
	for _, tt := range []struct {
		size, want int64
	}{
		{0, Default},
		{-1, Default},
		{120 << 20, 6 << 20},
		{5 << 30, Default},
		{1 << 40, Default},
	} {
		if got := Floor(tt.size); got != tt.want {
			t.Errorf("Floor(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
	if got := OfBlocks(30720, 4096); got != 6<<20 {
		t.Errorf("OfBlocks(120 MiB in 4 KiB blocks) = %d, want %d", got, 6<<20)
	}
	if got := OfBlocks(^uint64(0), 4096); got != Default {
		t.Errorf("OfBlocks(overflowing) = %d, want Default", got)
	}
	if got := OfBlocks(10, 0); got != Default {
		t.Errorf("OfBlocks(bsize 0) = %d, want Default", got)
	}
}

func TestCheckInterval(t *testing.T) {
	for _, tt := range []struct{ floor, want int64 }{
		{Default, MaxCheckInterval},
		{6 << 20, 3 << 20},
		{1 << 10, 64 << 10},
	} {
		if got := CheckInterval(tt.floor); got != tt.want {
			t.Errorf("CheckInterval(%d) = %d, want %d", tt.floor, got, tt.want)
		}
	}
}
