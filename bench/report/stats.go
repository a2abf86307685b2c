package main

import (
	"fmt"
	"math"
	"slices"
)

// Stat summarizes one series: the median, the extremes and how many observations.
type Stat struct {
	Median, Min, Max float64
	N                int
}

// summarize returns the Stat of vs; ok is false for an empty series.
func summarize(vs []float64) (s Stat, ok bool) {
	if len(vs) == 0 {
		return Stat{}, false
	}
	sorted := slices.Clone(vs)
	slices.Sort(sorted)
	n := len(sorted)
	med := sorted[n/2]
	if n%2 == 0 {
		med = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return Stat{Median: med, Min: sorted[0], Max: sorted[n-1], N: n}, true
}

// seconds formats a duration: milliseconds under a second, seconds above.
func seconds(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v < 0.01:
		return fmt.Sprintf("%.1f ms", v*1000)
	case v < 1:
		return fmt.Sprintf("%.0f ms", v*1000)
	case v < 10:
		return fmt.Sprintf("%.2f s", v)
	default:
		return fmt.Sprintf("%.1f s", v)
	}
}

// bytes formats a size in KiB under one MiB, else in MiB.
func bytes(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.Abs(v) < 1<<20:
		return fmt.Sprintf("%.0f KiB", v/1024)
	case math.Abs(v) < 100<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	default:
		return fmt.Sprintf("%.0f MiB", v/(1<<20))
	}
}

// ratio formats a/b as "1.23×", or "—" when it is undefined.
func ratio(a, b float64) string {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) || math.IsInf(b, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// pairedRatio is the median of a[i]/b[i] over paired runs (bench/interleave's rounds) with
// its interquartile range, as "0.95× (0.88–1.02)"; ok is false unless a and b pair up: as
// many runs each, all positive (a failed run is not recorded, which unpairs the series).
func pairedRatio(a, b []float64) (string, bool) {
	if len(a) == 0 || len(a) != len(b) {
		return "—", false
	}
	rs := make([]float64, len(a))
	for i := range a {
		if a[i] <= 0 || b[i] <= 0 {
			return "—", false
		}
		rs[i] = a[i] / b[i]
	}
	slices.Sort(rs)
	q := func(p float64) float64 { // linear between the two nearest ranks
		pos := p * float64(len(rs)-1)
		lo := int(pos)
		hi := min(lo+1, len(rs)-1)
		return rs[lo] + (rs[hi]-rs[lo])*(pos-float64(lo))
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", q(0.5), q(0.25), q(0.75)), true
}
