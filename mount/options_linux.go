package mount

import (
	"strings"

	"golang.org/x/sys/unix"
)

// flagOption is what one mount(8) word does to the mount(2) flags: set or clear bits.
type flagOption struct {
	clear bool
	flag  uintptr
}

// flagOptions are the words that become mount(2) flags rather than filesystem data.
var flagOptions = map[string]flagOption{
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"nosuid":      {false, unix.MS_NOSUID},
	"suid":        {true, unix.MS_NOSUID},
	"nodev":       {false, unix.MS_NODEV},
	"dev":         {true, unix.MS_NODEV},
	"noexec":      {false, unix.MS_NOEXEC},
	"exec":        {true, unix.MS_NOEXEC},
	"sync":        {false, unix.MS_SYNCHRONOUS},
	"async":       {true, unix.MS_SYNCHRONOUS},
	"dirsync":     {false, unix.MS_DIRSYNC},
	"remount":     {false, unix.MS_REMOUNT},
	"mand":        {false, unix.MS_MANDLOCK},
	"nomand":      {true, unix.MS_MANDLOCK},
	"atime":       {true, unix.MS_NOATIME},
	"noatime":     {false, unix.MS_NOATIME},
	"diratime":    {true, unix.MS_NODIRATIME},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"relatime":    {false, unix.MS_RELATIME},
	"norelatime":  {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
	"bind":        {false, unix.MS_BIND},
	"rbind":       {false, unix.MS_BIND | unix.MS_REC},
}

// propagationOptions need a mount(2) call of their own after the mount exists: the kernel
// ignores propagation bits combined with a new mount.
var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parsedOptions is a Mount's Options split the way mount(2) wants them.
type parsedOptions struct {
	flags       uintptr   // MS_* flags for the mount itself
	propagation []uintptr // MS_PRIVATE etc., each applied by its own call, in order
	data        []string  // filesystem data, comma-joined for mount(2)
}

// parseOptions splits mount(8) words into flags, propagation changes and filesystem data.
// Later words win over earlier ones ("ro,rw" is rw), as in mount(8).
func parseOptions(options []string) parsedOptions {
	var p parsedOptions
	for _, o := range options {
		if f, ok := flagOptions[o]; ok {
			if f.clear {
				p.flags &^= f.flag
			} else {
				p.flags |= f.flag
			}
			continue
		}
		if f, ok := propagationOptions[o]; ok {
			p.propagation = append(p.propagation, f)
			continue
		}
		if o == "" {
			continue
		}
		p.data = append(p.data, o)
	}
	return p
}

// bindRemountFlags are the flags a bind mount ignores on creation and only honours on a
// MS_REMOUNT|MS_BIND: the kernel copies the source's flags for a new bind.
const bindRemountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// overlayOptions is an overlay Mount's options taken apart: the lowerdirs (top first), the
// upper and work dirs, and the rest (flags and other overlay data such as "index=off").
type overlayOptions struct {
	lowers      []string
	upper, work string
	flags       uintptr
	propagation []uintptr
	data        []string // overlay data other than lowerdir/upperdir/workdir
}

// parseOverlayOptions splits an overlay Mount's options. "lowerdir=a:b" and repeated
// "lowerdir+=" words both add lowers, top first; a backslash escapes a colon in a path, as
// overlayfs itself reads it.
func parseOverlayOptions(options []string) overlayOptions {
	p := parseOptions(options)
	o := overlayOptions{flags: p.flags, propagation: p.propagation}
	for _, d := range p.data {
		switch {
		case strings.HasPrefix(d, "lowerdir+="):
			o.lowers = append(o.lowers, strings.TrimPrefix(d, "lowerdir+="))
		case strings.HasPrefix(d, "lowerdir="):
			o.lowers = append(o.lowers, splitLowers(strings.TrimPrefix(d, "lowerdir="))...)
		case strings.HasPrefix(d, "upperdir="):
			o.upper = strings.TrimPrefix(d, "upperdir=")
		case strings.HasPrefix(d, "workdir="):
			o.work = strings.TrimPrefix(d, "workdir=")
		default:
			o.data = append(o.data, d)
		}
	}
	return o
}

// escapeLower escapes the characters overlayfs treats specially in a mount(2) path option:
// the comma ends an option and the colon separates lowerdirs; overlayfs removes the
// backslashes again when it resolves upperdir, workdir and each lowerdir.
func escapeLower(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`)
	return r.Replace(p)
}

// overlayData renders the mount(2) data string for overlay with the given lowers.
func (o overlayOptions) overlayData(lowers []string, upper, work string) string {
	esc := make([]string, len(lowers))
	for i, l := range lowers {
		esc[i] = escapeLower(l)
	}
	parts := []string{"lowerdir=" + strings.Join(esc, ":")}
	if upper != "" {
		parts = append(parts, "upperdir="+escapeLower(upper))
	}
	if work != "" {
		parts = append(parts, "workdir="+escapeLower(work))
	}
	parts = append(parts, o.data...)
	return strings.Join(parts, ",")
}
