package cgroups

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// Layout of struct bpf_cgroup_dev_ctx, the program's input (include/uapi/linux/bpf.h): the
// access type word holds the device type in its low 16 bits and the access in its high 16.
const (
	ctxAccessType = 0
	ctxMajor      = 4
	ctxMinor      = 8

	devBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devChar  = 2 // BPF_DEVCG_DEV_CHAR

	accMknod = 1 // BPF_DEVCG_ACC_MKNOD
	accRead  = 2 // BPF_DEVCG_ACC_READ
	accWrite = 4 // BPF_DEVCG_ACC_WRITE
)

// deviceProgram compiles rules into a cgroup device program: each rule is a block of
// "jump to the next rule unless this field matches" tests ending in "return 1"; falling off
// the last rule returns 0, deny.
func deviceProgram(rules []DeviceRule) (asm.Instructions, error) {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, ctxAccessType, asm.Word),
		asm.And.Imm32(asm.R2, 0xffff), // R2: device type
		asm.LoadMem(asm.R3, asm.R1, ctxAccessType, asm.Word),
		asm.RSh.Imm32(asm.R3, 16), // R3: access asked for
		asm.LoadMem(asm.R4, asm.R1, ctxMajor, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, ctxMinor, asm.Word),
	}
	for i, rule := range rules {
		if err := rule.validate(); err != nil {
			return nil, err
		}
		next := fmt.Sprintf("rule%d", i+1)
		var block asm.Instructions
		switch rule.Type {
		case 'b':
			block = append(block, asm.JNE.Imm(asm.R2, devBlock, next))
		case 'c':
			block = append(block, asm.JNE.Imm(asm.R2, devChar, next))
		}
		var allowed int32
		for _, a := range rule.Access {
			allowed |= map[rune]int32{'m': accMknod, 'r': accRead, 'w': accWrite}[a]
		}
		if allowed != accMknod|accRead|accWrite {
			// Any access bit outside the rule's: not this rule.
			block = append(block,
				asm.Mov.Reg32(asm.R1, asm.R3),
				asm.And.Imm32(asm.R1, ^allowed),
				asm.JNE.Imm(asm.R1, 0, next),
			)
		}
		if rule.Major != AnyDevice {
			block = append(block, asm.JNE.Imm(asm.R4, int32(rule.Major), next))
		}
		if rule.Minor != AnyDevice {
			block = append(block, asm.JNE.Imm(asm.R5, int32(rule.Minor), next))
		}
		block = append(block, asm.Mov.Imm32(asm.R0, 1), asm.Return())
		if i > 0 {
			block[0] = block[0].WithSymbol(fmt.Sprintf("rule%d", i))
		}
		insns = append(insns, block...)
	}
	deny := asm.Instructions{asm.Mov.Imm32(asm.R0, 0), asm.Return()}
	if len(rules) > 0 {
		deny[0] = deny[0].WithSymbol(fmt.Sprintf("rule%d", len(rules)))
	}
	return append(insns, deny...), nil
}
