// Package freespace says how much free space strata's writes into a store keep on its
// filesystem: the pull's download, the load's staging, a layer's unpack, a vfs copy.
package freespace

// Default is the floor on a filesystem of 5 GiB and more.
const Default int64 = 256 << 20

// divisor makes the floor of a smaller filesystem 1/20 (5%) of its size.
const divisor = 20

// Floor is the free space a write must leave on a filesystem of size bytes: Default, or 5% of
// the filesystem when that is less. A fixed 256 MiB refused every pull and load into a store
// smaller than that (a 120 MB tmpfs, a small CI volume) where docker and podman succeed. The
// reserve is for the writes that follow (index.json, layer metadata, logs), which grow with
// what the filesystem holds: 5% is what mke2fs reserves for root for the same reason, and it
// still stops a stream without end well before ENOSPC. A size of 0 (a filesystem that does
// not tell) gets Default.
func Floor(size int64) int64 {
	if size <= 0 {
		return Default
	}
	return min(Default, size/divisor)
}

// OfBlocks is Floor of a filesystem of blocks blocks of bsize bytes, as statfs reports it.
func OfBlocks(blocks uint64, bsize int64) int64 {
	if bsize <= 0 || blocks > uint64(1<<62)/uint64(bsize) {
		return Default
	}
	return Floor(int64(blocks) * bsize)
}

// MaxCheckInterval is how many bytes a write may go between two looks at the free space.
const MaxCheckInterval int64 = 16 << 20

// CheckInterval is how many bytes a write goes between two looks at the free space when it
// keeps floor free: MaxCheckInterval, or less on a small filesystem, where that many bytes
// would reach ENOSPC before a look saw the floor crossed.
func CheckInterval(floor int64) int64 {
	return min(MaxCheckInterval, max(floor/2, 64<<10))
}
