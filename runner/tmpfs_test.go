package runner

import (
	"strings"
	"testing"
)

// tmpfsAccepted are --tmpfs options ParseTmpfs takes; tmpfs_linux_test.go mounts each.
var tmpfsAccepted = []string{
	"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async",
	"dirsync", "mand", "nomand", "rprivate", "defaults", "runbindable", "atime", "noatime",
	"diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
	"size=1k", "size=10%", "mode=1777", "mode=0700", "uid=1000", "gid=0x10", "uid=010",
	"nr_inodes=1k", "nr_inodes=0", "nr_blocks=100", "nr_inodes=0xEE", "mpol=default",
	"mpol=bind=static:0-1",
}

// TestParseTmpfsOptions pins that --tmpfs takes the options docker's ParseTmpfsOptions
// takes, with values the kernel reads, and refuses the rest at parse time, naming the option:
// they went to the kernel, whose answer at start was "mount /x: invalid argument".
func TestParseTmpfsOptions(t *testing.T) {
	for _, o := range tmpfsAccepted {
		if _, err := ParseTmpfs("/x:" + o); err != nil {
			t.Errorf("ParseTmpfs(%q) = %v, want no error", "/x:"+o, err)
		}
	}
	refused := []struct {
		opt, want string
	}{
		{"mode=99999", `option mode: "99999" is not an octal mode`},
		{"mode=0x1ff", `option mode: "0x1ff" is not an octal mode`},
		{"mode=", `option mode: "" is not an octal mode`},
		{"size=-1", `invalid size "-1"`},
		{"size=abc", `invalid size "abc"`},
		{"size", "option size needs a value"},
		{"nr_inodes=x", `option nr_inodes: "x" is not a number`},
		{"nr_blocks=1kk", `option nr_blocks: "1kk" is not a number`},
		{"nr_inodes=-1", `option nr_inodes: "-1" is not a number`},
		{"uid=-1", `option uid: "-1" is not a numeric id`},
		{"gid=4294967295", `option gid: "4294967295" is not a numeric id`},
		{"uid=root", `option uid: "root" is not a numeric id`},
		{"mpol=fast", `option mpol: "fast" is not a memory policy`},
		{"huge=never", `unknown option "huge=never"`},
		{"bogus", `unknown option "bogus"`},
		{"x-strata.create", `unknown option "x-strata.create"`},
		{"ro=1", `unknown option "ro=1"`},
		{"remount", "option remount: a new tmpfs is mounted"},
		{"bogus\x1b[2J" + strings.Repeat("o", 200), `unknown option "bogus\x1b[2J` + strings.Repeat("o", 55) + `"… (209 bytes)`},
	}
	for _, tt := range refused {
		in := "/x:size=1m," + tt.opt
		_, err := ParseTmpfs(in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTmpfs(%.80q) = %v, want an error with %q", in, err, tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), `invalid --tmpfs "/x:size=1m,`) || strings.ContainsAny(err.Error(), "\x1b\n") {
			t.Errorf("ParseTmpfs(%.80q) = %q, want one escaped line naming the --tmpfs", in, err)
		}
	}
}
