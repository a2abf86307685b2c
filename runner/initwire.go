package runner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner/cgroups"
)

// The parent's two messages to the init (initStart, then goAhead) travel in a small binary
// form rather than JSON. The init is a fresh process: encoding/json's first decode there (its
// code paged in, the Spec's fields worked out by reflection) took ~0.5 ms of every start, on
// the path the container waits on. A message is a 4-byte big-endian length and that many
// bytes: the fields in the fixed order appendInitStart and appendGoAhead write them, integers
// as varints, strings and lists as a length and their items, a nil list or pointer as 0 and
// any other as its length (or 1) plus one. TestInitWireRoundTrip fills every field of a Spec
// to catch one added to the struct but not here.

// maxStartMessage bounds a message's length: a spec of that size is a bug, not a container.
const maxStartMessage = 64 << 20

// errInitWire reports a malformed message.
var errInitWire = errors.New("malformed message")

// wireWriter appends fields to b.
type wireWriter struct{ b []byte }

func (w *wireWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *wireWriter) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }

func (w *wireWriter) bool(v bool) {
	if v {
		w.uint(1)
	} else {
		w.uint(0)
	}
}

func (w *wireWriter) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *wireWriter) strs(v []string) {
	writeList(w, v, func(s string) {
		w.str(s)
	})
}

func (w *wireWriter) mounts(v []mount.Mount) {
	writeList(w, v, func(m mount.Mount) {
		w.str(m.Type)
		w.str(m.Source)
		w.str(m.Target)
		w.strs(m.Options)
	})
}

func (w *wireWriter) ulimits(v []Ulimit) {
	writeList(w, v, func(u Ulimit) {
		w.str(u.Name)
		w.int(u.Hard)
		w.int(u.Soft)
	})
}

// throttles writes block I/O limits (--device-read-bps and the others).
func (w *wireWriter) throttles(v []cgroups.ThrottleDevice) {
	writeList(w, v, func(d cgroups.ThrottleDevice) {
		w.str(d.Path)
		w.int(d.Major)
		w.int(d.Minor)
		w.uint(d.Rate)
	})
}

// weights writes --blkio-weight-device's weights.
func (w *wireWriter) weights(v []cgroups.WeightDevice) {
	writeList(w, v, func(d cgroups.WeightDevice) {
		w.str(d.Path)
		w.int(d.Major)
		w.int(d.Minor)
		w.uint(uint64(d.Weight))
	})
}

// deviceFields writes the --device, --device-cgroup-rule, --sysctl and --oom-score-adj
// fields of s: a byte each when none is given.
func (w *wireWriter) deviceFields(s Spec) {
	w.uint(uint64(len(s.Resources.Devices)))
	for _, d := range s.Resources.Devices {
		w.uint(uint64(d.Type))
		w.int(d.Major)
		w.int(d.Minor)
		w.str(d.Access)
	}
	w.count(s.Devices == nil, len(s.Devices))
	for _, d := range s.Devices {
		w.str(d.PathOnHost)
		w.str(d.PathInContainer)
		w.str(d.CgroupPermissions)
	}
	w.count(s.DeviceNodes == nil, len(s.DeviceNodes))
	for _, d := range s.DeviceNodes {
		w.str(d.Source)
		w.str(d.Target)
	}
	w.strs(s.DeviceCgroupRules)
	w.count(s.Sysctls == nil, len(s.Sysctls))
	for k, v := range s.Sysctls {
		w.str(k)
		w.str(v)
	}
	w.bool(s.OomScoreAdj != nil)
	if s.OomScoreAdj != nil {
		w.int(int64(*s.OomScoreAdj))
	}
}

// count writes a list's length as strs does: 0 for nil, else one more than its items.
func (w *wireWriter) count(isNil bool, n int) {
	if isNil {
		w.uint(0)
		return
	}
	w.uint(uint64(n) + 1)
}

// writeList writes v, a nil list apart from an empty one, each item by each.
func writeList[T any](w *wireWriter, v []T, each func(T)) {
	w.count(v == nil, len(v))
	for _, x := range v {
		each(x)
	}
}

// readList reads what writeList wrote, each item by each.
func readList[T any](r *wireReader, each func() T) []T {
	n, ok := r.count()
	if !ok {
		return nil
	}
	v := make([]T, n)
	for i := range v {
		v[i] = each()
	}
	return v
}

// wireReader reads fields from b; the first error sticks and every later read returns zero.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errInitWire, what)
	}
}

// varint reads one number with f, binary.Uvarint or binary.Varint.
func varint[T int64 | uint64](r *wireReader, f func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := f(r.b)
	if n <= 0 {
		r.fail("bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) uint() uint64 { return varint(r, binary.Uvarint) }
func (r *wireReader) int() int64   { return varint(r, binary.Varint) }

func (r *wireReader) bool() bool {
	switch r.uint() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad flag")
	return false
}

// count reads a list's length, one more than its items (0: nil, which ok is false for); each
// item takes a byte at least, so a length beyond what is left is refused before allocating.
func (r *wireReader) count() (n int, ok bool) {
	v := r.uint()
	if v == 0 || r.err != nil {
		return 0, false
	}
	if v-1 > uint64(len(r.b)) {
		r.fail("list longer than the message")
		return 0, false
	}
	return int(v - 1), true
}

func (r *wireReader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("field longer than the message")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *wireReader) str() string { return string(r.bytes(r.uint())) }

func (r *wireReader) strs() []string {
	return readList(r, func() string { return r.str() })
}

func (r *wireReader) mounts() []mount.Mount {
	return readList(r, func() mount.Mount {
		return mount.Mount{Type: r.str(), Source: r.str(), Target: r.str(), Options: r.strs()}
	})
}

func (r *wireReader) ulimits() []Ulimit {
	return readList(r, func() Ulimit { return Ulimit{Name: r.str(), Hard: r.int(), Soft: r.int()} })
}

func (r *wireReader) throttles() []cgroups.ThrottleDevice {
	return readList(r, func() cgroups.ThrottleDevice {
		return cgroups.ThrottleDevice{Path: r.str(), Major: r.int(), Minor: r.int(), Rate: r.uint()}
	})
}

func (r *wireReader) weights() []cgroups.WeightDevice {
	return readList(r, func() cgroups.WeightDevice {
		return cgroups.WeightDevice{Path: r.str(), Major: r.int(), Minor: r.int(), Weight: uint16(r.uint())}
	})
}

// deviceFields reads what wireWriter.deviceFields wrote into s.
func (r *wireReader) deviceFields(s *Spec) {
	if n := r.uint(); n > 0 && r.err == nil {
		if n > uint64(len(r.b)) {
			r.fail("list longer than the message")
			return
		}
		s.Resources.Devices = make([]cgroups.DeviceRule, n)
		for i := range s.Resources.Devices {
			d := &s.Resources.Devices[i]
			d.Type = byte(r.uint())
			d.Major = r.int()
			d.Minor = r.int()
			d.Access = r.str()
		}
	}
	if n, ok := r.count(); ok {
		s.Devices = make([]DeviceMapping, n)
		for i := range s.Devices {
			s.Devices[i] = DeviceMapping{PathOnHost: r.str(), PathInContainer: r.str(), CgroupPermissions: r.str()}
		}
	}
	if n, ok := r.count(); ok {
		s.DeviceNodes = make([]DeviceNode, n)
		for i := range s.DeviceNodes {
			s.DeviceNodes[i] = DeviceNode{Source: r.str(), Target: r.str()}
		}
	}
	s.DeviceCgroupRules = r.strs()
	if n, ok := r.count(); ok {
		s.Sysctls = make(map[string]string, n)
		for range n {
			k := r.str()
			s.Sysctls[k] = r.str()
		}
	}
	if r.bool() {
		v := int(r.int())
		s.OomScoreAdj = &v
	}
}

func appendInitStart(w *wireWriter, m initStart) {
	s := m.Spec
	w.str(s.ID)
	w.str(s.Dir)
	w.mounts(s.Root)
	w.mounts(s.Mounts)
	w.strs(s.Args)
	w.strs(s.Env)
	w.str(s.Cwd)
	w.str(s.User)
	w.str(s.Hostname)
	w.str(s.Domainname)
	w.bool(s.Terminal)
	w.bool(s.Stdin)
	w.bool(s.ReadOnly)
	w.str(s.Network)
	res := s.Resources
	w.int(res.Memory)
	w.int(res.MemorySwap)
	w.uint(math.Float64bits(res.CPUs))
	w.uint(res.CPUShares)
	w.str(res.CpusetCpus)
	w.int(res.PidsLimit)
	w.bool(res.AllDevices)
	w.int(res.CPUPeriod)
	w.int(res.CPUQuota)
	w.str(res.CpusetMems)
	w.int(res.MemoryReservation)
	w.int(res.MemorySwappiness)
	w.bool(res.MemorySwappinessSet)
	w.bool(res.OomKillDisable)
	w.uint(uint64(res.BlkioWeight))
	w.throttles(res.BlkioDeviceReadBps)
	w.throttles(res.BlkioDeviceWriteBps)
	w.throttles(res.BlkioDeviceReadIOps)
	w.throttles(res.BlkioDeviceWriteIOps)
	w.weights(res.BlkioWeightDevice)
	w.str(res.CgroupParent)
	w.strs(s.CapAdd)
	w.strs(s.CapDrop)
	w.bool(s.Privileged)
	w.str(s.Seccomp)
	w.bool(s.NoNewPrivileges)
	w.bool(s.Init)
	w.strs(s.ExtraHosts)
	w.strs(s.DNS)
	w.strs(s.DNSSearch)
	w.strs(s.DNSOptions)
	w.bool(s.Time != nil)
	if s.Time != nil {
		w.int(int64(s.Time.Monotonic))
		w.int(int64(s.Time.Boottime))
	}
	w.ulimits(s.Ulimits)
	w.strs(s.GroupAdd)
	w.int(s.ShmSize)
	w.str(s.CgroupNS)
	w.deviceFields(s)
	w.str(s.PidMode)
	w.str(s.IpcMode)
	w.str(s.UTSMode)
	w.str(s.UsernsMode)
	w.str(m.Netns)
	w.uint(uint64(m.Rows))
	w.uint(uint64(m.Cols))
	w.host(m.Host)
}

// host writes what the plan needs from the host, as the parent read it (nil: the init reads
// it itself); the links go in name order, so a message is the same bytes for the same host.
func (w *wireWriter) host(h *hostInfo) {
	w.bool(h != nil)
	if h == nil {
		return
	}
	writeList(w, h.Cgroups, func(m cgroupMount) {
		w.str(m.Target)
		w.str(m.FSType)
		w.str(m.Super)
	})
	var names []string
	if h.CgroupLinks != nil {
		names = slices.Sorted(maps.Keys(h.CgroupLinks))
		if names == nil {
			names = []string{}
		}
	}
	writeList(w, names, func(name string) {
		w.str(name)
		w.str(h.CgroupLinks[name])
	})
	w.strs(h.Devices)
	w.bool(h.NoKcore)
}

func (r *wireReader) host() *hostInfo {
	if !r.bool() {
		return nil
	}
	var h hostInfo
	h.Cgroups = readList(r, func() cgroupMount {
		return cgroupMount{Target: r.str(), FSType: r.str(), Super: r.str()}
	})
	type link struct{ name, to string }
	if links := readList(r, func() link { return link{r.str(), r.str()} }); links != nil {
		h.CgroupLinks = make(map[string]string, len(links))
		for _, l := range links {
			h.CgroupLinks[l.name] = l.to
		}
	}
	h.Devices = r.strs()
	h.NoKcore = r.bool()
	return &h
}

func readInitStartFields(r *wireReader) initStart {
	var m initStart
	s := &m.Spec
	s.ID = r.str()
	s.Dir = r.str()
	s.Root = r.mounts()
	s.Mounts = r.mounts()
	s.Args = r.strs()
	s.Env = r.strs()
	s.Cwd = r.str()
	s.User = r.str()
	s.Hostname = r.str()
	s.Domainname = r.str()
	s.Terminal = r.bool()
	s.Stdin = r.bool()
	s.ReadOnly = r.bool()
	s.Network = r.str()
	res := &s.Resources
	res.Memory = r.int()
	res.MemorySwap = r.int()
	res.CPUs = math.Float64frombits(r.uint())
	res.CPUShares = r.uint()
	res.CpusetCpus = r.str()
	res.PidsLimit = r.int()
	res.AllDevices = r.bool()
	res.CPUPeriod = r.int()
	res.CPUQuota = r.int()
	res.CpusetMems = r.str()
	res.MemoryReservation = r.int()
	res.MemorySwappiness = r.int()
	res.MemorySwappinessSet = r.bool()
	res.OomKillDisable = r.bool()
	res.BlkioWeight = uint16(r.uint())
	res.BlkioDeviceReadBps = r.throttles()
	res.BlkioDeviceWriteBps = r.throttles()
	res.BlkioDeviceReadIOps = r.throttles()
	res.BlkioDeviceWriteIOps = r.throttles()
	res.BlkioWeightDevice = r.weights()
	res.CgroupParent = r.str()
	s.CapAdd = r.strs()
	s.CapDrop = r.strs()
	s.Privileged = r.bool()
	s.Seccomp = r.str()
	s.NoNewPrivileges = r.bool()
	s.Init = r.bool()
	s.ExtraHosts = r.strs()
	s.DNS = r.strs()
	s.DNSSearch = r.strs()
	s.DNSOptions = r.strs()
	if r.bool() {
		s.Time = &TimeNamespace{Monotonic: time.Duration(r.int()), Boottime: time.Duration(r.int())}
	}
	s.Ulimits = r.ulimits()
	s.GroupAdd = r.strs()
	s.ShmSize = r.int()
	s.CgroupNS = r.str()
	r.deviceFields(s)
	s.PidMode = r.str()
	s.IpcMode = r.str()
	s.UTSMode = r.str()
	s.UsernsMode = r.str()
	m.Netns = r.str()
	m.Rows = uint16(r.uint())
	m.Cols = uint16(r.uint())
	m.Host = r.host()
	return m
}

func appendGoAhead(w *wireWriter, m goAhead) {
	w.bool(m.Go)
	w.bool(m.Seccomp != nil)
	if m.Seccomp != nil {
		w.uint(uint64(m.Seccomp.Flags))
		w.uint(uint64(len(m.Seccomp.Insns)))
		w.b = append(w.b, m.Seccomp.Insns...)
	}
}

func readGoAheadFields(r *wireReader) goAhead {
	var m goAhead
	m.Go = r.bool()
	if r.bool() {
		f := &seccompFilter{Flags: uint(r.uint())}
		n := r.uint()
		if n == 0 || n > uint64(maxFilterBytes) || n%uint64(sockFilterSize) != 0 {
			r.fail(fmt.Sprintf("seccomp filter of %d bytes", n))
			return m
		}
		f.Insns = r.bytes(n)
		m.Seccomp = f
	}
	return m
}

// writeMessage sends one message that appendFields makes, with its length first.
func writeMessage(w io.Writer, appendFields func(*wireWriter)) error {
	ww := &wireWriter{b: make([]byte, 4, 1024)}
	appendFields(ww)
	if len(ww.b)-4 > maxStartMessage {
		return fmt.Errorf("message of %d bytes is too long", len(ww.b)-4)
	}
	binary.BigEndian.PutUint32(ww.b, uint32(len(ww.b)-4))
	_, err := w.Write(ww.b)
	return err
}

// readMessage reads one message, exactly: nothing after it is consumed.
func readMessage[T any](rd io.Reader, readFields func(*wireReader) T) (T, error) {
	var zero T
	var n [4]byte
	if _, err := io.ReadFull(rd, n[:]); err != nil {
		return zero, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxStartMessage {
		return zero, fmt.Errorf("%w: %d bytes", errInitWire, size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(rd, b); err != nil {
		return zero, err
	}
	r := &wireReader{b: b}
	v := readFields(r)
	if r.err == nil && len(r.b) != 0 {
		r.fail("bytes after its fields")
	}
	if r.err != nil {
		return zero, r.err
	}
	return v, nil
}

func writeInitStart(w io.Writer, m initStart) error {
	return writeMessage(w, func(ww *wireWriter) { appendInitStart(ww, m) })
}

func readInitStart(r io.Reader) (initStart, error) { return readMessage(r, readInitStartFields) }

func writeGoAhead(w io.Writer, m goAhead) error {
	return writeMessage(w, func(ww *wireWriter) { appendGoAhead(ww, m) })
}

func readGoAhead(r io.Reader) (goAhead, error) { return readMessage(r, readGoAheadFields) }
