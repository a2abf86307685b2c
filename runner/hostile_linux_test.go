package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// TestRunBindOverHostileFiles: an image whose bind targets (/etc/hosts, /etc/resolv.conf, a -v
// file's target) are a FIFO or a device node gets the binds over them, as with docker; the
// init never opens them, so it neither hangs on the FIFO nor fails on the nodev root.
func TestRunBindOverHostileFiles(t *testing.T) {
	for _, ro := range []bool{false, true} {
		spec := testSpec(t, "cat", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/vol")
		spec.Root[0].Options = append(spec.Root[0].Options, "nodev") // as the snapshotter mounts it
		spec.ReadOnly = ro
		spec.Hostname = "inside"
		etc := filepath.Join(spec.Dir, "upper", "etc")
		if err := os.MkdirAll(etc, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{
			unix.Mkfifo(filepath.Join(etc, "hosts"), 0o644),
			unix.Mknod(filepath.Join(etc, "resolv.conf"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))),
			unix.Mkfifo(filepath.Join(etc, "hostname"), 0o644),
			unix.Mkfifo(filepath.Join(spec.Dir, "upper", "vol"), 0o644),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		src := filepath.Join(t.TempDir(), "vol")
		if err := os.WriteFile(src, []byte("volume\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		spec.Mounts = []mount.Mount{{Type: "bind", Source: src, Target: "/vol", Options: []string{"rbind"}}}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out bytes.Buffer
		code, err := Run(ctx, spec, Stdio{Stdout: &out})
		hung := ctx.Err() != nil
		cancel()
		if hung {
			t.Fatalf("read-only %v: Run hung on an image whose bind targets are FIFOs", ro)
		}
		if err != nil || code != 0 || !bytes.Contains(out.Bytes(), []byte("127.0.1.1\tinside\n")) ||
			!bytes.HasSuffix(out.Bytes(), []byte("inside\nvolume\n")) {
			t.Errorf("read-only %v: Run = %d, %v, %q; want strata's files and the volume", ro, code, err, out.String())
		}
	}
}
