package main

import "testing"

// TestOfferSizeLatestWins: a resize that comes before the attach has taken the first size
// replaces it, and the attach sends the terminal's size as it is now. The size queued at the
// start was kept and the later one dropped, so a run -it resized as its container started
// kept its first size (TestRunTerminalResize failed so, 1 run in 15).
func TestOfferSizeLatestWins(t *testing.T) {
	sizes := make(chan [2]uint16, 1)
	offerSize(sizes, [2]uint16{24, 80})
	offerSize(sizes, [2]uint16{40, 100})
	if got := <-sizes; got != [2]uint16{40, 100} {
		t.Fatalf("the attach took %v, want the latest size [40 100]", got)
	}
	select {
	case got := <-sizes:
		t.Fatalf("a second size %v was queued, want only the latest", got)
	default:
	}
	// Taken, the next size is queued as it comes.
	offerSize(sizes, [2]uint16{50, 120})
	if got := <-sizes; got != [2]uint16{50, 120} {
		t.Fatalf("the attach took %v, want [50 120]", got)
	}
}
