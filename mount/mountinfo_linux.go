package mount

import (
	"bytes"
	"os"

	"github.com/moby/sys/mountinfo"
)

// maxInfoLine is how long a mountinfo line may be when it reaches moby's parser, which reads
// lines with a bufio.Scanner and its default 64 KiB limit.
const maxInfoLine = 60 << 10

// keptSuperOptions is how much of a cut line's super options stays.
const keptSuperOptions = 1 << 10

// Mounts is mountinfo.GetMounts, but never fails on a long line. moby's parser stops with
// "token too long" at a line over 64 KiB, and an overlay of a few hundred layers makes one (its
// super options name every lowerdir): while such a container ran, every unmount on the host
// that reads mountinfo failed, every other container's rm with it. A line over the limit
// reaches the parser with its super options, the last field, which no caller reads, cut.
func Mounts(filter mountinfo.FilterFunc) ([]*mountinfo.Info, error) {
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	return mountsFrom(data, filter)
}

// mountsFrom parses the mountinfo text data as Mounts does.
func mountsFrom(data []byte, filter mountinfo.FilterFunc) ([]*mountinfo.Info, error) {
	return mountinfo.GetMountsFromReader(bytes.NewReader(shortenLines(data)), filter)
}

// shortenLines returns data, or a copy whose lines over maxInfoLine have their super options
// cut to keptSuperOptions bytes.
func shortenLines(data []byte) []byte {
	long := false
	for line := range bytes.Lines(data) {
		if len(line) > maxInfoLine {
			long = true
			break
		}
	}
	if !long {
		return data
	}
	var out bytes.Buffer
	for line := range bytes.Lines(data) {
		if len(line) > maxInfoLine {
			line = shortenLine(bytes.TrimSuffix(line, []byte("\n")))
			line = append(line, '\n')
		}
		out.Write(line)
	}
	return out.Bytes()
}

// shortenLine cuts the super options of one mountinfo line: after the " - " separator come
// the filesystem type, the source and the super options. A line without them, or one that is
// still too long (a mountpoint of its own near the limit, which the kernel's PATH_MAX keeps
// far from it), is left to the parser to refuse.
func shortenLine(line []byte) []byte {
	sep := bytes.Index(line, []byte(" - "))
	if sep < 0 {
		return line
	}
	fields := bytes.SplitN(line[sep+3:], []byte(" "), 3)
	if len(fields) < 3 || len(fields[2]) <= keptSuperOptions {
		return line
	}
	cut := len(line) - len(fields[2]) + keptSuperOptions
	return bytes.Clone(line[:cut])
}
