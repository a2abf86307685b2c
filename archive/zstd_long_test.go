package archive

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestLoadZstdLongWindow: `docker save | zstd --long=31` writes a stream whose frame asks
// for a window of 2 GiB, more than Load reads with. It failed with "window size exceeded",
// which said neither that the archive's compression was the cause nor what to do.
func TestLoadZstdLongWindow(t *testing.T) {
	// Magic, a frame header descriptor with no content size, a window descriptor of 2^31
	// bytes (exponent 21), then one empty raw block that is the last.
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00}
	loadFails(t, bytes.NewReader(frame), LoadOptions{}, zstd.ErrWindowSizeExceeded, "--long=27")
}
