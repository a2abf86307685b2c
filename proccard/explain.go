package proccard

import (
	"fmt"
	"io"
	"strings"
)

// Explain writes the card as a short walk-through for `strata explain`: what the container is
// on this host, said with the live numbers, each fact followed by the host commands that show
// it without strata. name is how the user called the container.
func Explain(w io.Writer, name string, c *Card) error {
	e := &explainer{w: w}
	pid := c.Pid
	e.para("Container %s is an ordinary process on this host: pid %d, running %s%s.",
		name, pid, quoteArgs(c.Command), inner(c))
	e.cmd("ps -o pid,ppid,user,args -p %d", pid)
	e.cmd("grep NSpid /proc/%d/status", pid)
	if len(c.Parents) > 0 {
		p := c.Parents[0]
		if p.Name() == "strata-monitor" {
			e.para("Its parent is pid %d (%s): strata's monitor, which waits for it and records how it exits. There is no daemon above it.", p.Pid, p.Name())
		} else {
			e.para("Its parent is pid %d (%s), the strata command that runs it in the foreground.", p.Pid, p.Name())
		}
		e.cmd("ps -o pid,ppid,args -p %d", p.Pid)
	}

	var own, shared []string
	for _, ns := range c.Namespaces {
		if ns.Shared {
			shared = append(shared, ns.Type)
		} else {
			own = append(own, fmt.Sprintf("%s %d", ns.Type, ns.Inode))
		}
	}
	msg := "What makes it a container is a set of namespaces: kernel views of the system that it sees alone."
	if len(own) > 0 {
		msg += " It has its own " + strings.Join(own, ", ") + " (type and inode)."
	}
	if len(shared) > 0 {
		msg += fmt.Sprintf(" It shares %s with %s.", strings.Join(shared, ", "), hostName(c.HostRef))
	}
	if t := c.TimeOffsets; t != nil {
		msg += fmt.Sprintf(" Its clocks are shifted: monotonic by %+gs, boottime by %+gs.", t.Monotonic, t.Boottime)
	}
	e.para("%s", msg)
	e.cmd("ls -l /proc/%d/ns", pid)
	e.cmd("lsns -p %d", pid)
	e.para("Any host tool can run in those namespaces. In its network namespace, `ip addr` lists only the container's interfaces:")
	e.cmd("nsenter --net --target %d ip addr", pid)
	e.cmd("strata enter %s -- ip addr", name)

	sec := c.Security
	nnp := "off"
	if sec.NoNewPrivs {
		nnp = "on, so setuid binaries cannot raise its privileges"
	}
	e.para("Root in a container is not the host's root: its capabilities are %s (mask %s); its system calls pass a seccomp %s (%s); no_new_privs is %s.",
		capSummary(sec.Capabilities), sec.CapEff, sec.Seccomp, plural(sec.SeccompFilters, "filter"), nnp)
	e.cmd("grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/%d/status", pid)
	e.cmd("capsh --decode=%s", sec.CapEff)

	if cg := c.Cgroup; cg != nil {
		e.para("Its limits are a cgroup (%s, on a %s host): memory %s of %s, %d tasks of %s, %.2fs of CPU used so far.",
			cg.Dir, cg.Mode, Bytes(int64(cg.Usage.MemoryUsage)), limitBytes(cg.Limits.Memory),
			cg.Usage.PidsCurrent, limitCount(cg.Limits.PidsLimit), float64(cg.Usage.CPUUsageNs)/1e9)
		e.cmd("cat /proc/%d/cgroup", pid)
		for _, f := range cg.Files {
			e.cmd("cat %s", f)
		}
	}
	if r := c.RootFS; r != nil {
		if r.Type == "overlay" {
			e.para("Its files are an overlay mount of %s, shared by every container of the image, plus one writable upper dir of its own (%s written so far):",
				plural(len(r.Lowers), "read-only image layer"), sizeWord(r.UpperSize, r.UpperSizePartial))
		} else {
			e.para("Its files are a %s mount:", r.Type)
		}
		for _, l := range r.Lowers {
			e.line("  %s", layerLine(l))
		}
		if r.Upper != "" {
			e.line("  upper: %s", r.Upper)
		}
		e.para("Its root, as it sees it, is reachable from the host:")
		e.cmd("grep ' / / ' /proc/%d/mountinfo", pid)
		e.cmd("ls /proc/%d/root/", pid)
	}
	return e.err
}

// hostName says what HostRef means in a sentence.
func hostName(ref string) string {
	if ref == "strata" {
		return "the host (strata's own namespaces)"
	}
	return "the host"
}

// explainer writes paragraphs and indented commands, remembering the first write error.
type explainer struct {
	w     io.Writer
	err   error
	wrote bool
}

func (e *explainer) line(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format+"\n", a...)
	}
}

func (e *explainer) para(format string, a ...any) {
	if e.wrote {
		e.line("")
	}
	e.wrote = true
	e.line(format, a...)
}

func (e *explainer) cmd(format string, a ...any) {
	e.line("    $ "+format, a...)
}

// plural is "1 layer", "2 layers".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
