package proccard

import (
	"strconv"
	"strings"
)

// Security is what confines the process besides namespaces and cgroups, from
// /proc/<pid>/status: `grep -E 'Cap|NoNewPrivs|Seccomp' /proc/<pid>/status` shows the same.
type Security struct {
	// CapEff is the effective capability mask in hex, as status prints it; Capabilities are
	// its names without CAP_, as `capsh --decode=<mask>` prints them.
	CapEff       string   `json:"CapEff"`
	Capabilities []string `json:"Capabilities"`
	// CapBnd is the bounding set: what the process and its children can ever get back.
	CapBnd string `json:"CapBnd"`
	// NoNewPrivs is prctl(PR_SET_NO_NEW_PRIVS): setuid binaries do not raise privileges.
	NoNewPrivs bool `json:"NoNewPrivs"`
	// Seccomp is "disabled", "strict" or "filter"; SeccompFilters counts the filters.
	Seccomp        string `json:"Seccomp"`
	SeccompFilters int    `json:"SeccompFilters"`
}

// capNames are the capabilities by number (linux/capability.h), without CAP_.
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// capList names the bits of a hex capability mask; unknown bits are named by number.
func capList(hex string) []string {
	mask, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return nil
	}
	out := []string{}
	for bit := 0; bit < 64; bit++ {
		if mask&(1<<bit) == 0 {
			continue
		}
		if bit < len(capNames) {
			out = append(out, capNames[bit])
		} else {
			out = append(out, strconv.Itoa(bit))
		}
	}
	return out
}

// securityFromStatus fills Security from the fields of /proc/<pid>/status.
func securityFromStatus(fields map[string]string) Security {
	s := Security{CapEff: fields["CapEff"], CapBnd: fields["CapBnd"], NoNewPrivs: fields["NoNewPrivs"] == "1"}
	s.Capabilities = capList(s.CapEff)
	switch fields["Seccomp"] {
	case "1":
		s.Seccomp = "strict"
	case "2":
		s.Seccomp = "filter"
	default:
		s.Seccomp = "disabled"
	}
	s.SeccompFilters, _ = strconv.Atoi(fields["Seccomp_filters"])
	return s
}

// capSummary is "13 capabilities: CHOWN, …" or "none".
func capSummary(caps []string) string {
	if len(caps) == 0 {
		return "none"
	}
	if len(caps) >= len(capNames) {
		return "all " + strconv.Itoa(len(caps))
	}
	return strconv.Itoa(len(caps)) + ": " + strings.Join(caps, " ")
}
