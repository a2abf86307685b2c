package proccard

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// Text writes the card for people, as `strata inspect --proc` prints it.
func Text(w io.Writer, c *Card) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "Process\thost pid %d%s: %s (uid %d, gid %d)\n", c.Pid, inner(c), quoteArgs(c.Command), c.UID, c.GID)
	if len(c.Parents) > 0 {
		chain := make([]string, len(c.Parents))
		for i, p := range c.Parents {
			chain[i] = fmt.Sprintf("%d %s", p.Pid, p.Name())
		}
		fmt.Fprintf(tw, "Parents\t%s\n", strings.Join(chain, " ← "))
	}
	sec := c.Security
	fmt.Fprintf(tw, "Security\tcapabilities %s\n", capSummary(sec.Capabilities))
	fmt.Fprintf(tw, "  \tseccomp %s (%s), no_new_privs %v\n", sec.Seccomp, plural(sec.SeccompFilters, "filter"), sec.NoNewPrivs)
	fmt.Fprintf(tw, "Namespaces\t(shared: same namespace as %s)\n", c.HostRef)
	for _, ns := range c.Namespaces {
		extra := ""
		if ns.Type == "time" && c.TimeOffsets != nil {
			extra = fmt.Sprintf(" (monotonic %+gs, boottime %+gs)", c.TimeOffsets.Monotonic, c.TimeOffsets.Boottime)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s%s\n", ns.Type, ns.Inode, sharedWord(ns.Shared), extra)
	}
	if cg := c.Cgroup; cg != nil {
		fmt.Fprintf(tw, "Cgroup\t%s (%s)\n", cg.Dir, cg.Mode)
		u, l := cg.Usage, cg.Limits
		fmt.Fprintf(tw, "  memory\t%s of %s\n", Bytes(int64(u.MemoryUsage)), limitBytes(l.Memory))
		if l.MemorySwap != 0 {
			fmt.Fprintf(tw, "  memory+swap\tlimit %s\n", limitBytes(l.MemorySwap))
		}
		fmt.Fprintf(tw, "  pids\t%d tasks of %s\n", u.PidsCurrent, limitCount(l.PidsLimit))
		cpu := fmt.Sprintf("%.2fs used", float64(u.CPUUsageNs)/1e9)
		if l.CPUs > 0 {
			cpu += fmt.Sprintf(", limit %g CPUs", l.CPUs)
		}
		if l.CPUShares > 0 {
			cpu += fmt.Sprintf(", shares %d", l.CPUShares)
		}
		if l.CpusetCpus != "" {
			cpu += ", cpuset " + l.CpusetCpus
		}
		fmt.Fprintf(tw, "  cpu\t%s\n", cpu)
	}
	if r := c.RootFS; r != nil {
		fmt.Fprintf(tw, "RootFS\t%s\n", r.Type)
		for i, l := range r.Lowers {
			fmt.Fprintf(tw, "  lower %d\t%s\n", i, layerLine(l))
		}
		if r.Upper != "" {
			fmt.Fprintf(tw, "  upper\t%s (%s written)\n", r.Upper, sizeWord(r.UpperSize, r.UpperSizePartial))
		}
	}
	return tw.Flush()
}

// inner says which PID the process has inside the container, from NSpid.
func inner(c *Card) string {
	if len(c.NSpid) < 2 {
		return ""
	}
	return fmt.Sprintf(", pid %d in the container", c.NSpid[len(c.NSpid)-1])
}

// layerLine describes one lowerdir.
func layerLine(l Layer) string {
	var parts []string
	if l.DiffID != "" {
		parts = append(parts, "diffid "+short(l.DiffID))
	}
	if l.Digest != "" {
		parts = append(parts, fmt.Sprintf("blob %s (%s)", short(l.Digest), Bytes(l.Size)))
	}
	parts = append(parts, sizeWord(l.DiskSize, l.DiskSizePartial)+" unpacked", l.Dir)
	return strings.Join(parts, ", ")
}

// sizeWord is a size, "at least" it when counting it stopped at sizeBudget.
func sizeWord(n int64, partial bool) string {
	if partial {
		return "at least " + Bytes(n)
	}
	return Bytes(n)
}

func sharedWord(shared bool) string {
	if shared {
		return "shared with the host"
	}
	return "own"
}

// short cuts "sha256:<64 hex>" to "sha256:<12 hex>".
func short(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}

func limitBytes(n int64) string {
	if n <= 0 {
		return "no limit"
	}
	return Bytes(n)
}

func limitCount(n int64) string {
	if n <= 0 {
		return "no limit"
	}
	return strconv.FormatInt(n, 10)
}

// Bytes formats n in binary units as docker stats does: "1.5MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.4g%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// quoteArgs joins a command line, quoting the words a shell would split and those with a
// byte a terminal would act on: the container writes its own argv, and an escape sequence in
// it (one that clears the screen, retitles the window, or answers back into the input) must
// not reach the terminal of whoever runs inspect --proc or explain. strconv.Quote spells
// control characters, invalid UTF-8 and unprintable runes (bidi overrides) as escapes.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") || !utf8.ValidString(a) || strings.ContainsFunc(a, unprintable) {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// Name is how a process calls itself: the base of argv[0] (strata's helpers set it to a
// marker such as strata-monitor), else the kernel's comm.
func (p Process) Name() string {
	if len(p.Command) > 0 && p.Command[0] != "" {
		return filepath.Base(p.Command[0])
	}
	return p.Comm
}

// unprintable reports whether r is a rune strconv.Quote would escape.
func unprintable(r rune) bool { return !strconv.IsPrint(r) }
