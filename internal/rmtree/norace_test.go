//go:build !race

package rmtree

const raceEnabled = false
