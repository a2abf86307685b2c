package cgroups

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// Devices are confined in two ways. v1 has a devices controller: "a" written to devices.deny
// empties the allowlist and each rule goes to devices.allow. v2 has no such files: the kernel
// runs a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup on every open and mknod of
// a device node, and the program returns 1 to allow. strata builds that program from the rules
// (as runc's devicefilter and crun's ebpf_src do) and loads it with two bpf(2) calls: the
// cilium/ebpf loader would bring BTF and feature probing that a 20-instruction program does
// not need.

// applyDevicesV1 confines a v1 cgroup to r's device rules. Without a devices controller, a
// hybrid host's unified node takes the v2 program instead: the kernel asks both.
func (c *Cgroup) applyDevicesV1(r Resources) error {
	rules := r.deviceRules()
	if rules == nil {
		// A new devices cgroup starts with its parent's list: every device, under a parent
		// strata made in an unconfined hierarchy.
		return nil
	}
	dir := c.ctrls["devices"]
	if dir == "" {
		if c.unified != "" {
			return c.h.attachDevices(c.unified, rules)
		}
		return fmt.Errorf("confining devices: %w: the devices controller is not mounted", ErrUnsupported)
	}
	if err := writeFile(dir, "devices.deny", "a"); err != nil {
		return fmt.Errorf("confining devices: %w", err)
	}
	for _, rule := range rules {
		if err := rule.validate(); err != nil {
			return err
		}
		if err := writeFile(dir, "devices.allow", rule.String()); err != nil {
			return fmt.Errorf("allowing devices %s: %w", rule, err)
		}
	}
	return nil
}

// applyDevicesV2 attaches the device program for r's rules to the v2 cgroup; with
// AllDevices there is none, as for runc's privileged containers.
func (c *Cgroup) applyDevicesV2(r Resources) error {
	if rules := r.deviceRules(); rules != nil {
		return c.h.attachDevices(c.dir, rules)
	}
	return nil
}

// attachDeviceProgram builds the program for rules and attaches it to the cgroup2 directory
// dir. The attachment keeps the program alive after its fd is closed, until the cgroup is
// removed.
func attachDeviceProgram(dir string, rules []DeviceRule) error {
	insns, err := deviceProgram(rules)
	if err != nil {
		return err
	}
	prog, err := loadDeviceProgram(insns)
	if err != nil {
		return fmt.Errorf("confining devices: %w", err)
	}
	defer unix.Close(prog)
	// bpf(2) takes the cgroup as a plain directory fd; an O_PATH fd is refused (EBADF).
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("confining devices: opening %s: %w", dir, err)
	}
	defer unix.Close(cg)
	// BPF_F_ALLOW_MULTI, as runc: a program an ancestor attached still runs, so a host
	// that confines strata itself keeps confining its containers.
	attr := progAttachAttr{
		targetFD:    uint32(cg),
		attachBPFFD: uint32(prog),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("confining devices: attaching the device program to %s: %w", dir, err)
	}
	return nil
}

// deviceProgramLicense is the program's license string. The program calls no helper, so the
// kernel does not require a GPL-compatible one.
const deviceProgramLicense = "Apache-2.0"

// progLoadAttr is the head of union bpf_attr for BPF_PROG_LOAD; the kernel zero-fills the
// fields a shorter attr leaves out.
type progLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
}

// progAttachAttr is union bpf_attr for BPF_PROG_ATTACH.
type progAttachAttr struct {
	targetFD    uint32
	attachBPFFD uint32
	attachType  uint32
	attachFlags uint32
}

// loadDeviceProgram loads insns as a cgroup device program and returns its fd. When the
// verifier refuses it, the load is repeated with a log, whose last line says why.
func loadDeviceProgram(insns asm.Instructions) (int, error) {
	var code bytes.Buffer
	if err := insns.Marshal(&code, hostEndian()); err != nil {
		return -1, fmt.Errorf("building the device program: %w", err)
	}
	raw := code.Bytes()
	license := []byte(deviceProgramLicense + "\x00")
	// The kernel reads both through the attr's plain integers: keep them alive until then.
	defer runtime.KeepAlive(raw)
	defer runtime.KeepAlive(license)
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(raw) / asm.InstructionSize),
		insns:    uint64(uintptr(unsafe.Pointer(&raw[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EACCES) {
		return -1, fmt.Errorf("loading the device program: %w", err)
	}
	log := make([]byte, 64<<10)
	defer runtime.KeepAlive(log)
	attr.logLevel, attr.logSize = 1, uint32(len(log))
	attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
	if fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err == nil {
		return fd, nil // refused once, accepted with a log: take it
	}
	msg := string(log)
	if i := strings.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimSpace(msg)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	if msg != "" {
		return -1, fmt.Errorf("loading the device program: %w: verifier: %s", err, msg)
	}
	return -1, fmt.Errorf("loading the device program: %w", err)
}

// hostEndian is this machine's byte order as one of the two values asm.Marshal accepts
// (binary.NativeEndian is a third type it does not know).
func hostEndian() binary.ByteOrder {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// bpf is the bpf(2) system call; it returns the new fd of commands that make one. EAGAIN
// (the verifier interrupted by a signal) is retried a few times, as cilium/ebpf does.
func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	for try := 0; ; try++ {
		r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
		switch {
		case errno == 0:
			return int(r), nil
		case errno == unix.EINTR || errno == unix.EAGAIN && try < 5:
			continue
		}
		return -1, errno
	}
}
