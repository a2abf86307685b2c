package runner

import "golang.org/x/sys/unix"

// seccompArch is AUDIT_ARCH_X86_64; seccompX32 makes the filter refuse x32 syscall numbers.
const (
	seccompArch   = unix.AUDIT_ARCH_X86_64
	seccompX32    = true
	seccompClone3 = unix.SYS_CLONE3
)

// seccompDenied lists what Docker's default profile does not allow on x86_64, with the
// capability that lifts the ban in that profile (-1: none does in strata; mount and friends
// need CAP_SYS_ADMIN, which Docker's profile also asks for).
var seccompDenied = []seccompRule{
	{"acct", unix.SYS_ACCT, unix.CAP_SYS_PACCT},
	{"add_key", unix.SYS_ADD_KEY, -1},
	{"bpf", unix.SYS_BPF, unix.CAP_BPF},
	{"clock_adjtime", unix.SYS_CLOCK_ADJTIME, unix.CAP_SYS_TIME},
	{"clock_settime", unix.SYS_CLOCK_SETTIME, unix.CAP_SYS_TIME},
	{"create_module", unix.SYS_CREATE_MODULE, unix.CAP_SYS_MODULE},
	{"delete_module", unix.SYS_DELETE_MODULE, unix.CAP_SYS_MODULE},
	{"finit_module", unix.SYS_FINIT_MODULE, unix.CAP_SYS_MODULE},
	{"fsconfig", unix.SYS_FSCONFIG, unix.CAP_SYS_ADMIN},
	{"fsmount", unix.SYS_FSMOUNT, unix.CAP_SYS_ADMIN},
	{"fsopen", unix.SYS_FSOPEN, unix.CAP_SYS_ADMIN},
	{"fspick", unix.SYS_FSPICK, unix.CAP_SYS_ADMIN},
	{"get_kernel_syms", unix.SYS_GET_KERNEL_SYMS, unix.CAP_SYS_MODULE},
	{"get_mempolicy", unix.SYS_GET_MEMPOLICY, unix.CAP_SYS_NICE},
	{"init_module", unix.SYS_INIT_MODULE, unix.CAP_SYS_MODULE},
	{"ioperm", unix.SYS_IOPERM, unix.CAP_SYS_RAWIO},
	{"iopl", unix.SYS_IOPL, unix.CAP_SYS_RAWIO},
	{"kcmp", unix.SYS_KCMP, unix.CAP_SYS_PTRACE},
	{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, unix.CAP_SYS_BOOT},
	{"kexec_load", unix.SYS_KEXEC_LOAD, unix.CAP_SYS_BOOT},
	{"keyctl", unix.SYS_KEYCTL, -1},
	{"lookup_dcookie", unix.SYS_LOOKUP_DCOOKIE, unix.CAP_SYS_ADMIN},
	{"mbind", unix.SYS_MBIND, unix.CAP_SYS_NICE},
	{"mount", unix.SYS_MOUNT, unix.CAP_SYS_ADMIN},
	{"mount_setattr", unix.SYS_MOUNT_SETATTR, unix.CAP_SYS_ADMIN},
	{"move_mount", unix.SYS_MOVE_MOUNT, unix.CAP_SYS_ADMIN},
	{"move_pages", unix.SYS_MOVE_PAGES, unix.CAP_SYS_NICE},
	{"name_to_handle_at", unix.SYS_NAME_TO_HANDLE_AT, unix.CAP_SYS_ADMIN},
	{"nfsservctl", unix.SYS_NFSSERVCTL, -1},
	{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, unix.CAP_DAC_READ_SEARCH},
	{"open_tree", unix.SYS_OPEN_TREE, unix.CAP_SYS_ADMIN},
	{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, unix.CAP_PERFMON},
	{"pivot_root", unix.SYS_PIVOT_ROOT, unix.CAP_SYS_ADMIN},
	{"process_vm_readv", unix.SYS_PROCESS_VM_READV, unix.CAP_SYS_PTRACE},
	{"process_vm_writev", unix.SYS_PROCESS_VM_WRITEV, unix.CAP_SYS_PTRACE},
	{"ptrace", unix.SYS_PTRACE, unix.CAP_SYS_PTRACE},
	{"query_module", unix.SYS_QUERY_MODULE, unix.CAP_SYS_MODULE},
	{"quotactl", unix.SYS_QUOTACTL, unix.CAP_SYS_ADMIN},
	{"quotactl_fd", unix.SYS_QUOTACTL_FD, unix.CAP_SYS_ADMIN},
	{"reboot", unix.SYS_REBOOT, unix.CAP_SYS_BOOT},
	{"request_key", unix.SYS_REQUEST_KEY, -1},
	{"set_mempolicy", unix.SYS_SET_MEMPOLICY, unix.CAP_SYS_NICE},
	{"setns", unix.SYS_SETNS, unix.CAP_SYS_ADMIN},
	{"settimeofday", unix.SYS_SETTIMEOFDAY, unix.CAP_SYS_TIME},
	{"swapoff", unix.SYS_SWAPOFF, unix.CAP_SYS_ADMIN},
	{"swapon", unix.SYS_SWAPON, unix.CAP_SYS_ADMIN},
	{"syslog", unix.SYS_SYSLOG, unix.CAP_SYSLOG},
	{"_sysctl", unix.SYS__SYSCTL, -1},
	{"sysfs", unix.SYS_SYSFS, -1},
	{"umount2", unix.SYS_UMOUNT2, unix.CAP_SYS_ADMIN},
	{"uselib", unix.SYS_USELIB, -1},
	{"userfaultfd", unix.SYS_USERFAULTFD, -1},
	{"ustat", unix.SYS_USTAT, -1},
	{"vhangup", unix.SYS_VHANGUP, unix.CAP_SYS_TTY_CONFIG},
}
