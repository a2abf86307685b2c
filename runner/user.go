package runner

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// User is a resolved container user: what the init passes to setgroups/setgid/setuid.
type User struct {
	UID, GID uint32
	// Groups are the supplementary groups: every group listing the user by name.
	Groups []uint32
	// Home is the passwd home directory, "/" when unknown; it becomes $HOME if unset.
	Home string
}

// passwdEntry and groupEntry are one line of /etc/passwd and /etc/group.
type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// ResolveUser resolves a docker --user value ("name", "uid", "name:group", "uid:gid", with
// group as a name or a number) against the container's passwd and group files, either of
// which may be nil when the image lacks it. It reads the value as docker does (runc's
// GetExecUser): a number, with an optional sign, is always an id, never a name; an empty user
// is uid 0 (":" and ":g" too) and an empty group is none ("w:" is "w"). A numeric uid need not
// exist in passwd (its gid is then 0, as docker does) but, unlisted, must be at most
// 2^31-1, as docker refuses larger ones; the same holds for a numeric group. A name must
// exist. The first passwd entry that matches is the user, as in libc and runc, and reading
// stops there. Supplementary groups come from the group file.
//
// The files come from the image: past maxUserFile they are an error unless what is left
// cannot change the result (a numeric uid with an explicit group: the rest could only give
// it a home), a line longer than maxUserLine is skipped, and more than maxGroups
// supplementary groups is an error.
func ResolveUser(spec string, passwd, group io.Reader) (User, error) {
	userPart, groupPart, _ := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	hasGroup := groupPart != ""
	uid, uidNumeric, uidFits := specID(userPart)
	var entry *passwdEntry
	// A number no passwd line can hold needs no reading: no entry will match it.
	if !uidNumeric || uidFits {
		err := scanLines(passwd, func(f []string) bool {
			e, ok := parsePasswdLine(f)
			if ok && (uidNumeric && e.uid == uid || !uidNumeric && e.name == userPart) {
				entry = &e
				return true
			}
			return false
		})
		if errors.Is(err, errFileTooBig) && uidNumeric && uid <= maxID && hasGroup {
			// The entry, past what strata reads, could only set $HOME: go on without it.
			err = nil
		}
		if err != nil {
			return User{}, fmt.Errorf("reading passwd file: %w", err)
		}
	}
	u := User{Home: "/"}
	var name string
	switch {
	case entry != nil:
		u.UID, u.GID, u.Home, name = entry.uid, entry.gid, entry.home, entry.name
	case !uidNumeric:
		return User{}, fmt.Errorf("unable to find user %s: %w in passwd file", userPart, ErrUnknownUser)
	case !uidFits || uid > maxID:
		return User{}, fmt.Errorf("unable to find user %s: %w", userPart, errIDRange)
	default:
		u.UID = uid
	}

	if hasGroup {
		gid, err := resolveGroup(groupPart, group)
		if err != nil {
			return User{}, err
		}
		u.GID = gid
	}

	// Docker keeps the primary group first and adds every group naming the user, once; an
	// explicit group replaces them all.
	u.Groups = []uint32{u.GID}
	if name != "" && !hasGroup {
		seen := map[uint32]bool{u.GID: true}
		tooMany := false
		err := scanLines(group, func(f []string) bool {
			g, ok := parseGroupLine(f)
			if !ok || seen[g.gid] || !slices.Contains(g.members, name) {
				return false
			}
			if len(u.Groups) == maxGroups {
				tooMany = true
				return true
			}
			seen[g.gid] = true
			u.Groups = append(u.Groups, g.gid)
			return false
		})
		if err != nil {
			return User{}, fmt.Errorf("reading group file: %w", err)
		}
		if tooMany {
			return User{}, fmt.Errorf("user %s is in more than %d groups, the kernel's limit", name, maxGroups)
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	return u, nil
}

// resolveGroup returns the gid of the group part of a --user value. A number up to 2^31-1
// is the gid as it is, listed or not, so the group file is not read; a larger one must be
// listed, as runc checks the range only of a gid it did not find.
func resolveGroup(s string, group io.Reader) (uint32, error) {
	gid, numeric, fits := specID(s)
	if numeric && (!fits || gid <= maxID) {
		if !fits {
			return 0, fmt.Errorf("unable to find group %s: %w", s, errIDRange)
		}
		return gid, nil
	}
	found := false
	err := scanLines(group, func(f []string) bool {
		g, ok := parseGroupLine(f)
		if ok && (numeric && g.gid == gid || !numeric && g.name == s) {
			gid, found = g.gid, true
		}
		return found
	})
	if err != nil {
		return 0, fmt.Errorf("reading group file: %w", err)
	}
	switch {
	case found:
		return gid, nil
	case numeric:
		return 0, fmt.Errorf("unable to find group %s: %w", s, errIDRange)
	default:
		return 0, fmt.Errorf("unable to find group %s: %w in group file", s, ErrUnknownUser)
	}
}

// maxID is the largest uid or gid docker takes that the files do not list: runc's
// libcontainer/user keeps ids in range for 32-bit systems.
const maxID = 1<<31 - 1

// errIDRange is docker's refusal of a number past maxID (runc's user.ErrRange).
var errIDRange = fmt.Errorf("uids and gids must be in range 0-%d", maxID)

// specID reads the user or the group of a --user value as docker does (strconv.Atoi): a
// decimal number with an optional sign is an id, anything else a name. fits is false for a
// number no passwd or group line can hold: a negative one, or one past 2^32-2.
func specID(s string) (id uint32, numeric, fits bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrSyntax) {
		return 0, false, false
	}
	if err != nil || n < 0 || n >= 1<<32-1 {
		return 0, true, false
	}
	return uint32(n), true, true
}

// parseID parses a uid or gid of a passwd or group line; ids are below 2^32-1 (which is the
// kernel's "no id").
func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	if n == 1<<32-1 {
		return 0, fmt.Errorf("id %d is reserved", n)
	}
	return uint32(n), nil
}

// Bounds on what ResolveUser reads of the image's files: /etc/passwd may be a sparse file of
// terabytes, which reads as zeros without end, or a single line of megabytes.
const (
	// maxUserFile is the most read of either file: a million users fit.
	maxUserFile = 64 << 20
	// maxUserLine: a longer line is skipped, as a line that does not parse is.
	maxUserLine = 1 << 20
	// maxGroups is the kernel's NGROUPS_MAX: setgroups takes no more.
	maxGroups = 65536
)

// errFileTooBig is scanLines' error for a file past maxUserFile.
var errFileTooBig = fmt.Errorf("larger than the %d MiB strata reads", maxUserFile>>20)

// scanLines calls fn with the fields of every non-comment line of a colon separated file
// until fn returns true. Lines that do not parse are skipped, as libc does, and so are lines
// longer than maxUserLine; a file longer than maxUserFile is an error once that much has been
// read.
func scanLines(r io.Reader, fn func(fields []string) (stop bool)) error {
	if r == nil {
		return nil
	}
	br := bufio.NewReaderSize(&io.LimitedReader{R: r, N: maxUserFile + 1}, 64<<10)
	var line []byte
	var total int64
	long := false
	for {
		chunk, err := br.ReadSlice('\n')
		if total += int64(len(chunk)); total > maxUserFile {
			return errFileTooBig
		}
		if !long && len(line)+len(chunk) > maxUserLine {
			long, line = true, line[:0]
		}
		if !long {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue // the same line goes on
		}
		if err != nil && err != io.EOF {
			return err
		}
		if !long {
			s := strings.TrimSpace(string(line))
			if s != "" && !strings.HasPrefix(s, "#") && fn(strings.Split(s, ":")) {
				return nil
			}
		}
		line, long = line[:0], false
		if err == io.EOF {
			return nil
		}
	}
}

// parsePasswdLine parses the fields of one passwd line; ok is false for one that does not parse.
func parsePasswdLine(f []string) (e passwdEntry, ok bool) {
	if len(f) < 7 {
		return e, false
	}
	uid, err1 := parseID(f[2])
	gid, err2 := parseID(f[3])
	if err1 != nil || err2 != nil {
		return e, false
	}
	return passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]}, true
}

// parseGroupLine parses the fields of one group line; ok is false for one that does not parse.
func parseGroupLine(f []string) (g groupEntry, ok bool) {
	if len(f) < 4 {
		return g, false
	}
	gid, err := parseID(f[2])
	if err != nil {
		return g, false
	}
	var members []string
	for _, m := range strings.Split(f[3], ",") {
		if m = strings.TrimSpace(m); m != "" {
			members = append(members, m)
		}
	}
	return groupEntry{name: f[0], gid: gid, members: members}, true
}
