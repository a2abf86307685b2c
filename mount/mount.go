// Package mount describes a mount as plain data and, on Linux, performs it.
//
// A Mount says what to mount (type, source, options) and where inside a root it belongs
// (Target); it does not say when or in which mount namespace. The snapshotter returns Mounts
// without mounting anything, and the runner's init mounts them inside the container, so the
// same value travels as JSON between processes (containerd core/mount/mount.go keeps the
// same split between the data and the act).
//
// Options use the words of mount(8): flags such as "ro", "nosuid", "nodev", "noexec",
// "bind", "rbind" and the propagation words "private", "rslave", ...; anything else is
// filesystem data such as "size=64m" for tmpfs or "lowerdir=", "upperdir=", "workdir=" for
// overlay.
package mount

import "strings"

// Mount is one mount as plain data.
type Mount struct {
	// Type is the filesystem type: "overlay", "bind", "tmpfs", "proc", ...
	Type string `json:"type"`
	// Source is what is mounted: a path for a bind, a free-form name ("overlay", "tmpfs")
	// for virtual filesystems.
	Source string `json:"source"`
	// Target is where the mount belongs, relative to the container's root ("/" for the root
	// itself). Mount.Mount takes the resolved absolute path separately.
	Target string `json:"target"`
	// Options are mount(8)-style options; see the package doc.
	Options []string `json:"options,omitempty"`
}

// OverlayDirs returns the lowerdirs (top first), upperdir and workdir an overlay Mount's
// options name, reading "lowerdir=a:b" (with backslash escapes) and repeated "lowerdir+="
// words alike. Other mounts have none.
func (m Mount) OverlayDirs() (lowers []string, upper, work string) {
	if m.Type != "overlay" {
		return nil, "", ""
	}
	for _, o := range m.Options {
		switch k, v, _ := strings.Cut(o, "="); k {
		case "lowerdir+":
			lowers = append(lowers, v)
		case "lowerdir":
			lowers = append(lowers, splitLowers(v)...)
		case "upperdir":
			upper = v
		case "workdir":
			work = v
		}
	}
	return lowers, upper, work
}

// splitLowers splits a lowerdir value on unescaped colons and removes the escapes.
func splitLowers(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case s[i] == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if cur.Len() > 0 || len(out) > 0 {
		out = append(out, cur.String())
	}
	return out
}
