package cgroups

import (
	"strconv"
	"strings"
)

// blkioV1 sums the Read and Write lines ("8:0 Read 4096") of dir's blkio counters over every
// device, as docker's CLI sums them. The kernel keeps two sets on v1: the throttle files, which
// count only on a device some cgroup has a throttle rule for (Linux 6.x starts blk-throttle
// on a device only then), and the bfq files, which count only on a device the bfq scheduler
// runs (runc reads those where they exist). Per device, the larger of the two is the I/O.
func (r *reader) blkioV1(dir string) (read, write uint64) {
	if r.err != nil || dir == "" {
		return 0, 0
	}
	type rw struct{ read, write uint64 }
	devs := map[string]rw{}
	for _, file := range []string{"blkio.throttle.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive"} {
		s, err := readFile(dir, file)
		if err != nil {
			if !isNotExist(err) {
				r.err = err
			}
			continue
		}
		this := map[string]rw{}
		for _, line := range strings.Split(s, "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue // "Total N"
			}
			n, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				continue
			}
			d := this[f[0]]
			switch f[1] {
			case "Read":
				d.read += n
			case "Write":
				d.write += n
			}
			this[f[0]] = d
		}
		for dev, d := range this {
			old := devs[dev]
			devs[dev] = rw{max(old.read, d.read), max(old.write, d.write)}
		}
	}
	for _, d := range devs {
		read += d.read
		write += d.write
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
