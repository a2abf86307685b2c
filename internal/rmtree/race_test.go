//go:build race

package rmtree

// raceEnabled: the race detector's runtime allocates without the tiny allocator and pads
// what it does allocate, so what a removal allocates per file is not what it allocates in a
// build without it.
const raceEnabled = true
