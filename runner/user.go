package runner

import (
	"bufio"
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
// which may be nil when the image lacks it. A numeric uid need not exist in passwd (its gid is
// then 0, as docker does); a name must. Supplementary groups come from the group file.
func ResolveUser(spec string, passwd, group io.Reader) (User, error) {
	if spec == "" {
		spec = "0"
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		return User{}, fmt.Errorf("invalid user %q: empty user", spec)
	}
	if hasGroup && groupPart == "" {
		return User{}, fmt.Errorf("invalid user %q: empty group", spec)
	}
	// Only the lines that can matter are kept: the image's files may be huge.
	uid, uidErr := parseID(userPart)
	users, err := parsePasswd(passwd, func(e passwdEntry) bool {
		return uidErr == nil && e.uid == uid || uidErr != nil && e.name == userPart
	})
	if err != nil {
		return User{}, err
	}

	u := User{Home: "/"}
	var name string
	if n, err := parseID(userPart); err == nil {
		u.UID = n
		for _, e := range users {
			if e.uid == n {
				u.GID, u.Home, name = e.gid, e.home, e.name
				break
			}
		}
	} else {
		found := false
		for _, e := range users {
			if e.name == userPart {
				u.UID, u.GID, u.Home, name, found = e.uid, e.gid, e.home, e.name, true
				break
			}
		}
		if !found {
			return User{}, fmt.Errorf("unable to find user %s: %w in passwd file", userPart, ErrUnknownUser)
		}
	}

	groups, err := parseGroup(group, func(g groupEntry) bool {
		return g.name == groupPart || name != "" && slices.Contains(g.members, name)
	})
	if err != nil {
		return User{}, err
	}

	if hasGroup {
		if n, err := parseID(groupPart); err == nil {
			u.GID = n
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					u.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return User{}, fmt.Errorf("unable to find group %s: %w in group file", groupPart, ErrUnknownUser)
			}
		}
	}

	// Docker keeps the primary group first and adds every group naming the user, once.
	seen := map[uint32]bool{u.GID: true}
	u.Groups = []uint32{u.GID}
	if name != "" && !hasGroup {
		for _, g := range groups {
			for _, m := range g.members {
				if m == name && !seen[g.gid] {
					seen[g.gid] = true
					u.Groups = append(u.Groups, g.gid)
				}
			}
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	return u, nil
}

// parseID parses a uid or gid; ids are below 2^32-1 (which is the kernel's "no id").
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

// scanLines calls fn with the fields of every non-comment line of an colon separated file.
// Lines that do not parse are skipped, as libc does; the file comes from the image.
func scanLines(r io.Reader, fn func(fields []string)) error {
	if r == nil {
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	return sc.Err()
}

// parsePasswd returns the entries of a passwd file that keep accepts.
func parsePasswd(r io.Reader, keep func(passwdEntry) bool) ([]passwdEntry, error) {
	var out []passwdEntry
	err := scanLines(r, func(f []string) {
		if len(f) < 7 {
			return
		}
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if err1 != nil || err2 != nil {
			return
		}
		if e := (passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]}); keep(e) {
			out = append(out, e)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("reading passwd file: %w", err)
	}
	return out, nil
}

// parseGroup returns the entries of a group file that keep accepts.
func parseGroup(r io.Reader, keep func(groupEntry) bool) ([]groupEntry, error) {
	var out []groupEntry
	err := scanLines(r, func(f []string) {
		if len(f) < 4 {
			return
		}
		gid, err := parseID(f[2])
		if err != nil {
			return
		}
		var members []string
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				members = append(members, m)
			}
		}
		if e := (groupEntry{name: f[0], gid: gid, members: members}); keep(e) {
			out = append(out, e)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("reading group file: %w", err)
	}
	return out, nil
}
