package integration

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/strata-run/strata/internal/testimages"
)

// hostAlpine is the alpine fixture for this host's architecture; the test is skipped where the
// fixtures have none.
func hostAlpine(t *testing.T) v1.Image {
	t.Helper()
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testimages.AlpineImage(td, testimages.AlpineVersion, testimages.HostArch())
	if err != nil {
		t.Skipf("no alpine for this host: %v", err)
	}
	return img
}

// loadConfigImage loads into root, as ref, alpine with a layer of headers (bodies by name)
// and its config changed by edit.
func loadConfigImage(t *testing.T, root, ref string, headers []tar.Header, bodies map[string]string, edit func(*v1.Config)) {
	t.Helper()
	img := hostAlpine(t)
	if len(headers) > 0 {
		var layer bytes.Buffer
		tw := tar.NewWriter(&layer)
		for _, h := range headers {
			body := bodies[h.Name]
			if h.Typeflag == tar.TypeReg {
				h.Size = int64(len(body))
			}
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write([]byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	if edit != nil {
		edit(&cf.Config)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	mustStrata(t, root, "load", "-i", archive)
}

// checkRefused checks a run the image's config made fail: code, one line on stderr holding
// want, no panic, and no line of a megabyte.
func checkRefused(t *testing.T, what string, r result, code int, want string) {
	t.Helper()
	line := strings.TrimSpace(r.Stderr)
	if r.Code != code || !strings.Contains(line, want) || strings.Contains(line, "\n") || len(line) > 8<<10 || strings.Contains(line, "panic") {
		t.Errorf("%s: exit %d, stderr %.300q; want %d and one short line with %q", what, r.Code, line, code, want)
	}
}

// TestHostileConfig runs images whose config and files an author made hostile through run,
// create and exec: paths that lead out, sizes, values docker refuses, and /etc/passwd and
// /etc/group made traps. Each runs as docker's does or is refused in one line with docker's
// status, leaves the host and the store as they were, and never hangs.
func TestHostileConfig(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	host := t.TempDir()
	rel, err := filepath.Rel("/", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r := strata(t, root, "ps", "-aq"); r.Stdout != "" {
			t.Errorf("containers left: %q", r.Stdout)
		}
		if names, err := os.ReadDir(host); err != nil || len(names) != 0 {
			t.Errorf("host dir holds %v, %v; want nothing", names, err)
		}
	})

	t.Run("paths through symlinks to the host", func(t *testing.T) {
		// /up leads, by dot-dots past the root, to the host dir's path; /abs names it. The
		// VOLUMEs and working directory below them are made inside the container.
		const ref = "hostile/paths:1"
		loadConfigImage(t, root, ref, []tar.Header{
			{Name: "up", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("../", 12) + rel, Mode: 0o777},
			{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: host, Mode: 0o777},
		}, nil, func(c *v1.Config) {
			c.Volumes = map[string]struct{}{"/up/vol1": {}, "/abs/vol2": {}, "/../../x": {}}
			c.WorkingDir = "/abs/wd"
		})
		r := strata(t, root, "run", "--rm", ref, "sh", "-c",
			"touch /up/vol1/a /abs/vol2/b x && pwd && grep -c ' "+host+"/vol[12] ' /proc/self/mountinfo && grep -c ' /x ' /proc/self/mountinfo")
		if want := host + "/wd\n2\n1\n"; r.Code != 0 || r.Stdout != want {
			t.Errorf("run: exit %d, stdout %q, stderr %q; want %q", r.Code, r.Stdout, r.Stderr, want)
		}
	})

	t.Run("a missing working directory under --read-only", func(t *testing.T) {
		// Docker makes the working directory at create, in the container's layer: a root
		// mounted read-only then has it too. Through the image's symlinks, inside the root.
		const ref = "hostile/rowd:1"
		loadConfigImage(t, root, ref, []tar.Header{
			{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: host, Mode: 0o777},
		}, nil, func(c *v1.Config) { c.WorkingDir = "/abs/wd" })
		for _, tc := range []struct {
			args []string
			want string
		}{
			{nil, host + "/wd\n"},
			{[]string{"-w", "/new/sub"}, "/new/sub\n"},
			{[]string{"-w", "/etc"}, "/etc\n"},
		} {
			r := strata(t, root, append(append(append([]string{"run", "--rm", "--read-only"}, tc.args...), ref), "sh", "-c", "pwd; if touch x 2>/dev/null; then echo writable; fi")...)
			if r.Code != 0 || r.Stdout != tc.want {
				t.Errorf("run --read-only %v: exit %d, stdout %q, stderr %q; want %q", tc.args, r.Code, r.Stdout, r.Stderr, tc.want)
			}
		}
		r := strata(t, root, "run", "--rm", "--read-only", "-w", "/"+strings.Repeat("x", 8000), ref, "true")
		checkRefused(t, "run --read-only -w of 8000 bytes", r, 125, "file name too long")
	})

	t.Run("VOLUME through a symlink into /proc", func(t *testing.T) {
		const ref = "hostile/procvol:1"
		loadConfigImage(t, root, ref, []tar.Header{
			{Name: "p", Typeflag: tar.TypeSymlink, Linkname: "/proc/sys", Mode: 0o777},
		}, nil, func(c *v1.Config) { c.Volumes = map[string]struct{}{"/p/kernel": {}} })
		checkRefused(t, "run", strata(t, root, "run", "--rm", ref, "true"), 125, "/p/kernel in the image leads into /proc")
	})

	t.Run("sizes", func(t *testing.T) {
		big := strings.Repeat("x", 1<<20)
		for _, tc := range []struct {
			name string
			edit func(*v1.Config)
			code int
			want string
		}{
			{"100k variables", func(c *v1.Config) {
				for i := range 100_000 {
					c.Env = append(c.Env, fmt.Sprintf("V%d=%d", i, i))
				}
			}, 0, ""},
			{"a variable of 1 MB", func(c *v1.Config) { c.Env = append(c.Env, "BIG="+big) }, 125, `invalid environment variable "BIG": 1048580 bytes, over the kernel's limit`},
			{"an argument of 1 MB", func(c *v1.Config) { c.Entrypoint = []string{"echo", big} }, 125, "invalid command: argument 1"},
			{"a working directory of 1 MB", func(c *v1.Config) { c.WorkingDir = "/" + big }, 125, "file name too long"},
			{"a relative working directory of 1 MB", func(c *v1.Config) { c.WorkingDir = big }, 125, "needs to be an absolute path"},
			{"a user of 1 MB", func(c *v1.Config) { c.User = big }, 125, "unable to find user"},
			// Recorded cut to 64 bytes, as docker's daemon records it whole; stop sends SIGTERM.
			{"a STOPSIGNAL of 1 MB", func(c *v1.Config) { c.StopSignal = big }, 0, ""},
			// Copied into every container's config.json, which every ps reads whole.
			{"labels of 3 MB", func(c *v1.Config) { c.Labels = map[string]string{"a": big, "b": big, "c": big} }, 125, "the image's labels take"},
			{"labels of 300 KB", func(c *v1.Config) {
				c.Labels = map[string]string{"a": big[:100_000], "b": big[:100_000], "c": big[:100_000]}
			}, 0, ""},
			{"10001 VOLUMEs", func(c *v1.Config) {
				c.Volumes = map[string]struct{}{}
				for i := range 10_001 {
					c.Volumes[fmt.Sprintf("/v/%d", i)] = struct{}{}
				}
			}, 125, "the image has 10001 VOLUMEs, more than the 10000 strata makes"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ref := "hostile/size:" + strings.ReplaceAll(tc.name, " ", "-")
				loadConfigImage(t, root, ref, nil, nil, tc.edit)
				for _, cmd := range []string{"run", "create"} {
					r := strata(t, root, cmd, "--rm", ref, "true")
					// The user and the working directory are found by the init, at start.
					atStart := strings.Contains(tc.want, "file name") || strings.Contains(tc.want, "unable to find")
					if tc.code == 0 || cmd == "create" && atStart {
						if r.Code != 0 {
							t.Errorf("%s: exit %d, stderr %.300q; want 0", cmd, r.Code, r.Stderr)
						} else if cmd == "create" {
							mustStrata(t, root, "rm", strings.TrimSpace(r.Stdout))
						}
						continue
					}
					checkRefused(t, cmd, r, tc.code, tc.want)
				}
			})
		}
	})

	t.Run("bad values", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			edit func(*v1.Config)
			code int
			want string // stdout for 0
		}{
			// docker's daemon checks only --stop-signal; stop sends SIGTERM for these.
			{"STOPSIGNAL SIGFOO", func(c *v1.Config) { c.StopSignal = "SIGFOO" }, 0, "ok\n"},
			{"STOPSIGNAL 999", func(c *v1.Config) { c.StopSignal = "999" }, 0, "ok\n"},
			{"STOPSIGNAL -1", func(c *v1.Config) { c.StopSignal = "-1" }, 0, "ok\n"},
			// docker (runc's parseLine) reads the first two fields and ignores the rest.
			{"USER 0:0:0", func(c *v1.Config) { c.User = "0:0:0" }, 0, "ok\n"},
			{"USER -1", func(c *v1.Config) { c.User = "-1" }, 125, "unable to find user -1"},
			{"USER 4294967296", func(c *v1.Config) { c.User = "4294967296" }, 125, "unable to find user 4294967296"},
			{"USER with a missing group", func(c *v1.Config) { c.User = "root:nogroup-missing" }, 125, "unable to find group nogroup-missing"},
			{"ENV with a NUL byte", func(c *v1.Config) { c.Env = append(c.Env, "A=b\x00c") }, 125, `invalid environment variable "A": contains a NUL byte`},
			{"ENV without '='", func(c *v1.Config) { c.Env = append(c.Env, "NOEQ") }, 125, `invalid environment variable "NOEQ": missing '='`},
			{"ENV with an empty name", func(c *v1.Config) { c.Env = append(c.Env, "=x") }, 125, `invalid environment variable "=x": empty name`},
			{"CMD with a NUL byte", func(c *v1.Config) { c.Cmd = []string{"echo", "a\x00b"} }, 125, "contains a NUL byte"},
			{"ENTRYPOINT [] and CMD", func(c *v1.Config) { c.Entrypoint, c.Cmd = []string{}, []string{"echo", "ok"} }, 0, "ok\n"},
			{"ENTRYPOINT null and CMD", func(c *v1.Config) { c.Entrypoint, c.Cmd = nil, []string{"echo", "ok"} }, 0, "ok\n"},
			{`ENTRYPOINT [""] and CMD`, func(c *v1.Config) { c.Entrypoint, c.Cmd = []string{""}, []string{"echo", "ok"} }, 127, `exec: "": executable file not found`},
			{"neither", func(c *v1.Config) { c.Entrypoint, c.Cmd = nil, nil }, 125, "no command specified"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ref := "hostile/value:" + fmt.Sprint(len(tc.name)) + strings.Map(func(r rune) rune {
					if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
						return r
					}
					return -1
				}, strings.ToLower(tc.name))
				loadConfigImage(t, root, ref, nil, nil, func(c *v1.Config) {
					c.Cmd = []string{"sh", "-c", "echo ok"}
					tc.edit(c)
				})
				r := strata(t, root, "run", "--rm", ref)
				if tc.code == 0 {
					if r.Code != 0 || r.Stdout != tc.want {
						t.Errorf("run: exit %d, stdout %q, stderr %q; want %q", r.Code, r.Stdout, r.Stderr, tc.want)
					}
					return
				}
				checkRefused(t, "run", r, tc.code, tc.want)
			})
		}
	})

	t.Run("passwd and group made traps", func(t *testing.T) {
		long := strings.Repeat("y", 2<<20)
		// The container's own tools would read the traps too (id blocks on the FIFO): its ids
		// are read from /proc.
		ids := []string{"awk", "/^(Uid|Gid):/ { print $2 }", "/proc/self/status"}
		for _, tc := range []struct {
			name    string
			headers []tar.Header
			body    string
		}{
			{"passwd a FIFO", []tar.Header{{Name: "etc/passwd", Typeflag: tar.TypeFifo, Mode: 0o644}}, ""},
			{"passwd a device", []tar.Header{{Name: "etc/passwd", Typeflag: tar.TypeChar, Mode: 0o644, Devmajor: 1, Devminor: 5}}, ""},
			{"passwd a link to /dev/zero", []tar.Header{{Name: "etc/passwd", Typeflag: tar.TypeSymlink, Linkname: "/dev/zero"}}, ""},
			{"passwd a link to /proc/self/environ", []tar.Header{{Name: "etc/passwd", Typeflag: tar.TypeSymlink, Linkname: "/proc/self/environ"}}, ""},
			{"passwd a link to the host's", []tar.Header{{Name: "etc/passwd", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("../", 12) + "etc/passwd"}}, ""},
			{"group a directory", []tar.Header{{Name: "etc/group", Typeflag: tar.TypeDir, Mode: 0o755}}, ""},
			{"passwd with a line of 2 MB", []tar.Header{{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}},
				long + "\nroot:x:0:0:root:/root:/bin/sh\nw:x:7:8::/home/w:/bin/sh"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ref := fmt.Sprintf("hostile/etc:%d-%d-%d", len(tc.name), len(tc.headers[0].Linkname), tc.headers[0].Typeflag)
				loadConfigImage(t, root, ref, tc.headers, map[string]string{tc.headers[0].Name: tc.body}, nil)
				// Root by default, numbers without passwd, as docker; a name needs passwd.
				start := time.Now()
				r := strata(t, root, append([]string{"run", "--rm", "-u", "0:0", ref}, ids...)...)
				if r.Code != 0 || r.Stdout != "0\n0\n" {
					t.Errorf("run -u 0:0: exit %d, stdout %q, stderr %q; want 0 0", r.Code, r.Stdout, r.Stderr)
				}
				r = strata(t, root, append([]string{"run", "--rm", "-u", "1234:5678", ref}, ids...)...)
				if r.Code != 0 || r.Stdout != "1234\n5678\n" {
					t.Errorf("run -u 1234:5678: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
				}
				r = strata(t, root, "run", "--rm", ref, "true")
				if r.Code != 0 {
					t.Errorf("run as the default user: exit %d, stderr %q", r.Code, r.Stderr)
				}
				if tc.headers[0].Name == "etc/passwd" && tc.body == "" {
					checkRefused(t, "run -u root", strata(t, root, "run", "--rm", "-u", "root", ref, "true"), 125, "unable to find user root")
				}
				// exec reads the container's files too, through its own helper.
				id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "-u", "0:0", ref, "sleep", "60").Stdout)
				t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
				r = strata(t, root, append([]string{"exec", "-u", "w", id}, ids...)...)
				switch {
				case tc.body != "":
					if r.Code != 0 || r.Stdout != "7\n8\n" {
						t.Errorf("exec -u w: exit %d, stdout %q, stderr %q; want 7 8", r.Code, r.Stdout, r.Stderr)
					}
				default: // alpine's passwd has no w either
					checkRefused(t, "exec -u w", r, 126, "unable to find user w")
				}
				mustStrata(t, root, "rm", "-f", id)
				if d := time.Since(start); d > time.Minute {
					t.Errorf("took %v", d)
				}
			})
		}
	})
}
