package runner

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-run/strata/internal/quote"
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
// is uid 0 (":" and ":g" too), an empty group is none ("w:" is "w") and fields past the
// second are ignored ("w:g:x" is "w:g"). A numeric uid need not
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
	return ResolveUserGroups(spec, nil, passwd, group)
}

// ResolveUserGroups is ResolveUser with docker's --group-add: each of groupAdd, a group's
// name or number, joins the supplementary groups after the user's own, as docker adds them
// (runc's GetAdditionalGroups). Each is looked up in the group file, where the first line
// whose name or gid is the value gives the gid; one no line matches is taken as a number if
// it is one (with an optional sign) within 0..2^31-1, else it is an error: a name, "unable
// to find group X: no matching entries in group file", a number out of range, docker's range
// error. A gid the process already has is not added twice (runc refused a second value that
// named a gid again, "--group-add 10 --group-add wheel", as an unknown group).
func ResolveUserGroups(spec string, groupAdd []string, passwd, group io.Reader) (User, error) {
	userPart, groupPart, _ := strings.Cut(spec, ":")
	// runc splits the value at every colon and reads the first two fields: "0:0:0" is 0:0.
	groupPart, _, _ = strings.Cut(groupPart, ":")
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
		return User{}, fmt.Errorf("unable to find user %s: %w in passwd file", groupName(userPart), ErrUnknownUser)
	case !uidFits || uid > maxID:
		return User{}, fmt.Errorf("unable to find user %s: %w", groupName(userPart), errIDRange)
	default:
		u.UID = uid
	}

	// The group file is read once, for what the value leaves to it: the group part of a
	// "user:group" (a name, or a number past 2^31-1, which must be listed: runc checks the
	// range only of a gid it did not find), or else the groups naming the user; and the
	// --group-add values.
	var lookup groupLookup
	if hasGroup {
		gid, numeric, fits := specID(groupPart)
		switch {
		case numeric && !fits:
			return User{}, fmt.Errorf("unable to find group %s: %w", groupName(groupPart), errIDRange)
		case numeric && gid <= maxID:
			u.GID = gid // listed or not, as it is
		default:
			lookup = groupLookup{name: groupPart, gid: gid, numeric: numeric, pending: true}
		}
	}
	// Docker keeps the primary group first and adds every group naming the user, once; an
	// explicit group replaces them all. The --group-add groups come last.
	members := name != "" && !hasGroup
	var memberOf []uint32
	memberSeen := map[uint32]bool{u.GID: true}      // u.GID is final when members is set
	added := make([]*uint32, len(groupAdd))         // the gid of each groupAdd value a line matched
	wanted := make(map[string][]int, len(groupAdd)) // the values no line matched yet
	for i, ag := range groupAdd {
		wanted[ag] = append(wanted[ag], i)
	}
	tooMany := false
	if lookup.pending || members || len(wanted) > 0 {
		err := scanLines(group, func(f []string) bool {
			g, ok := parseGroupLine(f)
			if !ok {
				return false
			}
			if lookup.pending && (lookup.numeric && g.gid == lookup.gid || !lookup.numeric && g.name == lookup.name) {
				u.GID, lookup.pending = g.gid, false
			}
			if len(wanted) > 0 {
				for _, key := range []string{g.name, strconv.FormatUint(uint64(g.gid), 10)} {
					for _, i := range wanted[key] {
						added[i] = &g.gid
					}
					delete(wanted, key)
				}
			}
			if members && !memberSeen[g.gid] && slices.Contains(g.members, name) {
				if len(memberOf)+1 == maxGroups {
					tooMany = true
					return true
				}
				memberSeen[g.gid] = true
				memberOf = append(memberOf, g.gid)
			}
			// The user's groups need the whole file; the others only their first lines.
			return !members && !lookup.pending && len(wanted) == 0
		})
		if err != nil {
			return User{}, fmt.Errorf("reading group file: %w", err)
		}
	}
	switch {
	case lookup.pending && lookup.numeric:
		return User{}, fmt.Errorf("unable to find group %s: %w", groupName(groupPart), errIDRange)
	case lookup.pending:
		return User{}, fmt.Errorf("unable to find group %s: %w in group file", groupName(groupPart), ErrUnknownUser)
	case tooMany:
		return User{}, fmt.Errorf("user %s is in more than %d groups, the kernel's limit", name, maxGroups)
	}
	u.Groups = append([]uint32{u.GID}, memberOf...)
	seen := make(map[uint32]bool, len(u.Groups)+len(groupAdd))
	for _, g := range u.Groups {
		seen[g] = true
	}
	for i, ag := range groupAdd {
		gid, err := addedGroup(ag, added[i])
		if err != nil {
			return User{}, err
		}
		if seen[gid] {
			continue
		}
		if len(u.Groups) == maxGroups {
			return User{}, fmt.Errorf("--group-add: more than %d groups, the kernel's limit", maxGroups)
		}
		seen[gid] = true
		u.Groups = append(u.Groups, gid)
	}
	if u.Home == "" {
		u.Home = "/"
	}
	return u, nil
}

// groupLookup is the group part of a --user value while the group file is read for it.
type groupLookup struct {
	name    string
	gid     uint32
	numeric bool
	pending bool // not found yet
}

// addedGroup is the gid of the --group-add value ag: found, the gid of the line that matched
// it, else ag as a number within 0..maxID (strconv.ParseInt's reading, as runc's).
func addedGroup(ag string, found *uint32) (uint32, error) {
	if found != nil {
		return *found, nil
	}
	n, err := strconv.ParseInt(ag, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrSyntax):
		return 0, fmt.Errorf("unable to find group %s: %w in group file", groupName(ag), ErrUnknownUser)
	case err != nil || n < 0 || n > maxID:
		return 0, fmt.Errorf("unable to find group %s: %w", groupName(ag), errIDRange)
	}
	return uint32(n), nil
}

// groupName is a user or group name (-u, --group-add) as an error names it: bare as docker's
// when it is a short printable word, else quoted and cut (it comes from the command line or
// an image, and may hold a newline or a megabyte).
func groupName(s string) string {
	if s != "" && len(s) <= quote.MaxValue && !strings.Contains(s, " ") && strconv.Quote(s) == `"`+s+`"` {
		return s
	}
	return quote.Value(s)
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
