package integration

import (
	"strings"
	"testing"
	"time"
)

// TestDiff plays docker diff: what a container added (A), changed (C) and deleted (D), each
// directory above a change listed as changed, the mount points strata made in the writable
// layer (busybox has no /etc/hosts, /etc/hostname, /etc/resolv.conf, /proc or /sys) never
// listed, as docker's init layer keeps them out of its diff, a directory whose entries came
// and went or that was touched listed as changed, a file name with a newline kept
// on its line, and nothing for a container that changed nothing or has no writable layer.
func TestDiff(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	script := `echo x >> /etc/passwd; touch /newfile; mkdir -p /usr/foo/bar; rm /bin/ls; ` +
		`rm -rf /etc/network && mkdir /etc/network && touch /etc/network/new; chmod 700 /home; ` +
		`ln -s /etc /lnk; touch /root; mkdir /var/x; rmdir /var/x; touch "/tmp/a
b"`
	mustStrata(t, root, "run", "--name", "d1", img, "sh", "-c", script)
	mustStrata(t, root, "run", "--name", "d2", img, "true")
	mustStrata(t, root, "run", "--name", "d3", "--read-only", img, "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "d1", "d2", "d3") })

	want := strings.Join([]string{
		"C /bin", "D /bin/ls",
		"C /etc", "D /etc/network", "A /etc/network/new", "C /etc/passwd",
		"C /home", "A /lnk", "A /newfile", "C /root",
		"C /tmp", `A "/tmp/a\nb"`,
		"C /usr", "A /usr/foo", "A /usr/foo/bar", "C /var",
	}, "\n") + "\n"
	if out := mustStrata(t, root, "diff", "d1").Stdout; out != want {
		t.Errorf("diff d1 =\n%s\nwant\n%s", out, want)
	}
	for _, name := range []string{"d2", "d3"} {
		if out := mustStrata(t, root, "container", "diff", name).Stdout; out != "" {
			t.Errorf("diff %s = %q, want nothing", name, out)
		}
	}
	// A running container's changes show as they happen.
	mustStrata(t, root, "run", "-d", "--name", "d4", img, "sh", "-c", "touch /running; sleep 1000")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "d4") })
	for i := 0; ; i++ {
		out := mustStrata(t, root, "diff", "d4").Stdout
		if out == "A /running\n" {
			break
		}
		if i == 50 {
			t.Fatalf("diff of a running container = %q, want A /running", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
