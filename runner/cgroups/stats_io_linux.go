package cgroups

import (
	"strconv"
	"strings"
)

// blkioV1 sums the Read and Write lines of dir's blkio.throttle.io_service_bytes_recursive
// ("8:0 Read 4096"), over every device, as docker's CLI sums them. The throttle file counts
// every bio, whatever the device's scheduler (the bfq and cfq files count only their own).
func (r *reader) blkioV1(dir string) (read, write uint64) {
	if r.err != nil || dir == "" {
		return 0, 0
	}
	s, err := readFile(dir, "blkio.throttle.io_service_bytes_recursive")
	if err != nil {
		if !isNotExist(err) {
			r.err = err
		}
		return 0, 0
	}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue // "Total N"
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		switch f[1] {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write
}

// ioStat sums rbytes and wbytes of dir's io.stat ("8:0 rbytes=4096 wbytes=0 rios=1 ..."),
// over every device; no io controller reads as 0.
func (r *reader) ioStat(dir string) (read, write uint64) {
	if r.err != nil || dir == "" {
		return 0, 0
	}
	s, err := readFile(dir, "io.stat")
	if err != nil {
		if !isNotExist(err) {
			r.err = err
		}
		return 0, 0
	}
	for _, line := range strings.Split(s, "\n") {
		for _, kv := range strings.Fields(line) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				read += n
			case "wbytes":
				write += n
			}
		}
	}
	return read, write
}
