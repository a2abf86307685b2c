package cgroups

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1024", 1024},
		{"100b", 100},
		{"4k", 4 << 10},
		{"4K", 4 << 10},
		{"512m", 512 << 20},
		{"512M", 512 << 20},
		{"512mb", 512 << 20},
		{"512MiB", 512 << 20},
		{"2g", 2 << 30},
		{"2 g", 2 << 30},
		{" 1G ", 1 << 30},
		{"1.5g", 3 << 29},
		{"1t", 1 << 40},
		{"1p", 1 << 50},
	}
	for _, tt := range tests {
		if got, err := ParseMemory(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseMemory(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "12x", "-1", "-5m", "m", ".5g", "5.g", "1.2.3m", "1e3", "0x10", "9999999999999p", "99999999999999999999", "12 mbb", "5ib"} {
		_, err := ParseMemory(in)
		var ve *ValueError
		if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) || ve.What != "memory" {
			t.Errorf("ParseMemory(%q) = %v, want an invalid memory ValueError", in, err)
		}
	}
	if _, err := ParseMemory("12x"); err == nil || err.Error() != `invalid memory value "12x"` {
		t.Errorf(`ParseMemory("12x") = %v, want docker's message`, err)
	}
}

func TestParseMemorySwap(t *testing.T) {
	if got, err := ParseMemorySwap("-1"); err != nil || got != -1 {
		t.Errorf(`ParseMemorySwap("-1") = %d, %v, want -1`, got, err)
	}
	if got, err := ParseMemorySwap("1g"); err != nil || got != 1<<30 {
		t.Errorf(`ParseMemorySwap("1g") = %d, %v, want %d`, got, err, 1<<30)
	}
	if _, err := ParseMemorySwap("-2"); err == nil || err.Error() != `invalid memory-swap value "-2"` {
		t.Errorf(`ParseMemorySwap("-2") = %v, want an invalid memory-swap error`, err)
	}
}

func TestParseCPUs(t *testing.T) {
	tests := []struct {
		in   string
		ncpu int
		want float64
	}{
		{"0", 2, 0},
		{"0.01", 2, 0.01},
		{"1.5", 2, 1.5},
		{"2", 2, 2},
		{" 1 ", 4, 1},
		// docker's CLI reads a rational number; these were refused as no number.
		{"1/2", 2, 0.5},
		{"3/2", 2, 1.5},
		{"0x1", 2, 1},
	}
	for _, tt := range tests {
		if got, err := parseCPUs(tt.in, tt.ncpu); err != nil || got != tt.want {
			t.Errorf("parseCPUs(%q, %d) = %v, %v, want %v", tt.in, tt.ncpu, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "x", "-1", "0.001", "3", "NaN", "Inf", "1e400", "1e-400", "0.0000000001", "1.0000000001", "1/3", "1/0", "5/2", "1/", "1e999999"} {
		if _, err := parseCPUs(in, 2); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseCPUs(%q, 2) = %v, want ErrInvalid", in, err)
		}
	}
	if _, err := parseCPUs("1e-400", 2); err == nil || !strings.Contains(err.Error(), "value is too precise") {
		t.Errorf(`parseCPUs("1e-400", 2) = %v, want "value is too precise" (it reads as 0, no limit)`, err)
	}
	want := `invalid cpus value "3": range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available`
	if _, err := parseCPUs("3", 2); err == nil || err.Error() != want {
		t.Errorf(`parseCPUs("3", 2) = %v, want %q`, err, want)
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"", nil},
		{"0", []int{0}},
		{"0-3", []int{0, 1, 2, 3}},
		{"0,2-3,7", []int{0, 2, 3, 7}},
		{" 1-1\n", []int{1}},
	}
	for _, tt := range tests {
		got, err := parseCPUList(tt.in)
		if err != nil || got.count() != len(tt.want) {
			t.Errorf("parseCPUList(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			continue
		}
		for _, cpu := range tt.want {
			if !got.has(cpu) {
				t.Errorf("parseCPUList(%q) lacks %d", tt.in, cpu)
			}
		}
	}
	for _, in := range []string{"a", "1-", "-1", "3-1", "1,,2", "1 - 2", "+1", "0-99999999999", "9000"} {
		if _, err := parseCPUList(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseCPUList(%q) = %v, want ErrInvalid", in, err)
		}
	}
	req, _ := parseCPUList("0-2,5")
	allowed, _ := parseCPUList("0-1")
	if got := req.missing(allowed); got != "2,5" {
		t.Errorf("missing = %q, want %q", got, "2,5")
	}
}

// The shares→weight map must hit the three points both cgroup versions define (min, default,
// max), grow with shares, and stay inside cpu.weight's 1-10000; reading it back must land
// near the shares that were asked for.
func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 1024: 100, 262144: 10000, 1 << 20: 10000} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	prev := uint64(0)
	for shares := uint64(2); shares <= maxShares; shares += 97 {
		w := sharesToWeight(shares)
		if w < prev || w < 1 || w > 10000 {
			t.Fatalf("sharesToWeight(%d) = %d after %d: not monotonic within 1-10000", shares, w, prev)
		}
		prev = w
		back := weightToShares(w)
		// One weight step covers up to ~0.3% of the log range: allow that much.
		if ratio := float64(back) / float64(shares); math.Abs(math.Log(ratio)) > 0.1 && shares > 64 {
			t.Errorf("weightToShares(sharesToWeight(%d)) = %d, too far off", shares, back)
		}
	}
	if got := weightToShares(100); got != 1024 {
		t.Errorf("weightToShares(100) = %d, want 1024", got)
	}
}
