package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idsScript prints the process's ids from the kernel, and $HOME: busybox's id would read
// /etc/passwd itself, which the huge-passwd case makes last minutes, as it would under docker.
const idsScript = `grep -E '^(Uid|Gid|Groups):' /proc/self/status | tr -s '\t ' ' '; echo "HOME=$HOME"`

// ids is what idsScript prints for a user.
func ids(uid, gid, groups, home string) string {
	return "Uid: " + strings.Repeat(uid+" ", 3) + uid + "\nGid: " + strings.Repeat(gid+" ", 3) + gid +
		"\nGroups: " + groups + " \nHOME=" + home + "\n"
}

// TestUserParity runs -u values whose reading differed from docker's (runc's
// libcontainer/user, which docker's daemon resolves -u with): numbers past 2^31-1 that the
// image does not list are refused with runc's words, 125 for run and 126 for exec; a signed
// number is a number; an empty user is uid 0 and an empty group none.
func TestUserParity(t *testing.T) {
	root := busyboxRoot(t)
	const image = "busybox:1.38.0-musl"
	for _, tt := range []struct {
		user string
		code int
		want string // stdout for 0, else the one line of stderr holds it
	}{
		{"3000000000", 125, "unable to find user 3000000000: uids and gids must be in range 0-2147483647"},
		{"3000000000:0", 125, "uids and gids must be in range 0-2147483647"},
		{"0:3000000000", 125, "unable to find group 3000000000: uids and gids must be in range 0-2147483647"},
		{"4294967294", 125, "uids and gids must be in range 0-2147483647"},
		{"2147483647:2147483647", 0, ids("2147483647", "2147483647", "2147483647", "/")},
		{"+5", 0, ids("5", "0", "0", "/")},
		{":", 0, ids("0", "0", "0 10", "/root")},
		{":10", 0, ids("0", "10", "10", "/root")},
		{"root:", 0, ids("0", "0", "0 10", "/root")},
	} {
		r := strata(t, root, "run", "--rm", "-u", tt.user, image, "sh", "-c", idsScript)
		if tt.code == 0 {
			if r.Code != 0 || r.Stdout != tt.want {
				t.Errorf("run -u %s: exit %d, stdout %q, stderr %q; want 0 and %q", tt.user, r.Code, r.Stdout, r.Stderr, tt.want)
			}
			continue
		}
		checkRefused(t, "run -u "+tt.user, r, tt.code, tt.want)
	}

	id := detached(t, root, image, "sleep", "1000")
	checkRefused(t, "exec -u 3000000000", strata(t, root, "exec", "-u", "3000000000", id, "true"), 126,
		"unable to find user 3000000000: uids and gids must be in range 0-2147483647")
	if r := strata(t, root, "exec", "-u", ":10", id, "sh", "-c", idsScript); r.Code != 0 || r.Stdout != ids("0", "10", "10", "/root") {
		t.Errorf("exec -u :10: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestUserParityHugePasswd: an /etc/passwd bigger than the 64 MiB strata reads (here a
// sparse file of 2 GB, bound over the image's) stopped every run and exec, even -u 1000:1000,
// which docker runs: with an explicit group the rest of the file could only give the uid a
// home. A uid alone, whose entry would set its gid, is still refused in one line.
func TestUserParityHugePasswd(t *testing.T) {
	root := busyboxRoot(t)
	const image = "busybox:1.38.0-musl"
	passwd := filepath.Join(t.TempDir(), "passwd")
	f, err := os.Create(passwd)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	vol := passwd + ":/etc/passwd:ro"

	r := strata(t, root, "run", "--rm", "-v", vol, "-u", "1000:1000", image, "sh", "-c", idsScript)
	if want := ids("1000", "1000", "1000", "/"); r.Code != 0 || r.Stdout != want {
		t.Errorf("run -u 1000:1000 over a 2 GB passwd: exit %d, stdout %q, stderr %q; want 0 and %q", r.Code, r.Stdout, r.Stderr, want)
	}
	checkRefused(t, "run -u 1000 over a 2 GB passwd", strata(t, root, "run", "--rm", "-v", vol, "-u", "1000", image, "true"),
		125, "reading passwd file: larger than the 64 MiB strata reads")

	id := detached(t, root, "-v", vol, "-u", "0:0", image, "sleep", "1000")
	if r := strata(t, root, "exec", "-u", "7:7", id, "sh", "-c", idsScript); r.Code != 0 || r.Stdout != ids("7", "7", "7", "/") {
		t.Errorf("exec -u 7:7 over a 2 GB passwd: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}
