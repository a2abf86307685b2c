package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestInfoCgroups: the version and docker's warnings from a fake cgroupfs of each layout.
func TestInfoCgroups(t *testing.T) {
	for _, c := range []struct {
		name, mode string
		files      map[string]string
		version    string
		warnings   []string
	}{
		{"v1 with swap accounting", "v1", map[string]string{"memory/memory.limit_in_bytes": "", "memory/memory.memsw.limit_in_bytes": ""}, "1", nil},
		{"v1 without swap accounting", "v1", map[string]string{"memory/memory.limit_in_bytes": ""}, "1", []string{"WARNING: No swap limit support"}},
		{"hybrid without memory", "hybrid", map[string]string{"cpu/cpu.shares": ""}, "1", []string{"WARNING: No memory limit support", "WARNING: No swap limit support"}},
		{"v2", "v2", map[string]string{"cgroup.controllers": "cpuset cpu io memory pids\n", "system.slice/memory.swap.max": "max"}, "2", nil},
		{"v2 without swap", "v2", map[string]string{"cgroup.controllers": "cpu memory\n", "system.slice/memory.max": "max"}, "2", []string{"WARNING: No swap limit support"}},
		{"v2 without controllers file", "v2", nil, "2", []string{"WARNING: No memory limit support", "WARNING: No swap limit support"}},
		{"none", "none", nil, "unknown", []string{"WARNING: no cgroup filesystem is mounted: containers run without limits"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := infoHost{cgroup: writeTree(t, c.files), cgroupMode: func() string { return c.mode }}
			var info systemInfo
			infoCgroups(h, &info)
			if info.CgroupVersion != c.version || !slices.Equal(info.Warnings, c.warnings) {
				t.Errorf("infoCgroups = version %q, warnings %q; want %q, %q", info.CgroupVersion, info.Warnings, c.version, c.warnings)
			}
		})
	}
}

// TestGatherInfoMissingHost: with no /proc, no cgroupfs and no os-release, info still
// answers, saying unknown.
func TestGatherInfoMissingHost(t *testing.T) {
	empty := t.TempDir()
	fifo := filepath.Join(empty, "os-release")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	h := infoHost{proc: filepath.Join(empty, "proc"), cgroup: filepath.Join(empty, "cg"), osRelease: fifo, cgroupMode: func() string { return "none" }}
	info := gatherInfo(&globals{root: filepath.Join(empty, "root")}, h)
	if info.OperatingSystem != "unknown" || info.MemTotal != 0 || info.Containers != 0 || info.Images != 0 {
		t.Errorf("gatherInfo on nothing = %+v", info)
	}
	var b bytes.Buffer
	printInfo(&b, info)
	for _, want := range []string{" Total Memory: unknown\n", " Operating System: unknown\n", " Cgroup Version: unknown\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("printInfo lacks %q:\n%s", want, b.String())
		}
	}
	if _, err := os.Lstat(filepath.Join(empty, "root")); err == nil {
		t.Error("gatherInfo made the root")
	}
}

func TestOsRelease(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a": "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
		"b": "NAME=Alpine\nVERSION=3.20\n",
		"c": "PRETTY_NAME='x\x1by'\n",
		"d": "garbage\x00",
	})
	for _, c := range []struct{ file, name, ver string }{
		{"a", "Debian GNU/Linux 12 (bookworm)", "12"},
		{"b", "Alpine 3.20", ""},
		{"c", `x\x1by`, ""},
		{"d", "unknown", ""},
		{"missing", "unknown", ""},
	} {
		if n, v := osRelease(filepath.Join(dir, c.file)); n != c.name || v != c.ver {
			t.Errorf("osRelease(%s) = %q, %q; want %q, %q", c.file, n, v, c.name, c.ver)
		}
	}
	mem := writeTree(t, map[string]string{"meminfo": "MemTotal:        2048 kB\nMemFree: 1 kB\n"})
	if n := meminfoTotal(filepath.Join(mem, "meminfo")); n != 2048*1024 {
		t.Errorf("meminfoTotal = %d", n)
	}
}

func TestInfoStorage(t *testing.T) {
	root := t.TempDir()
	var info systemInfo
	infoStorage(&globals{root: filepath.Join(root, "not", "yet"), storageDriver: "vfs"}, &info)
	if info.Driver != "vfs" || len(info.DriverStatus) != 2 || info.DriverStatus[0][1] == "unknown" || info.DriverStatus[1][1] == "unknown" {
		t.Errorf("infoStorage = %q %q", info.Driver, info.DriverStatus)
	}
}

// TestSystemPruneWarning: docker's question, with the filters listed as docker lists them.
func TestSystemPruneWarning(t *testing.T) {
	got := systemPruneWarning(systemPruneOptions{all: true, volumes: true, filters: []string{"until=24h", "label=a"}})
	want := "WARNING! This will remove:\n  - all stopped containers\n  - all anonymous volumes not used by at least one container\n" +
		"  - all images without at least one container associated to them\n  - all layers and blobs no image or container uses\n" +
		"\n  Items to be pruned will be filtered with:\n  - label=a\n  - until=24h\n\nAre you sure you want to continue?"
	if got != want {
		t.Errorf("systemPruneWarning =\n%s\nwant\n%s", got, want)
	}
	if got := systemPruneWarning(systemPruneOptions{}); !strings.Contains(got, "  - all dangling images\n") {
		t.Errorf("systemPruneWarning without -a = %q", got)
	}
}

// TestInfoMirrorPassword: info shows a --registry-mirror given with user:password@ (which
// every pull refuses) with its password as "xxxxx", in the text and in --format's JSON, as
// the pull's error does: the password was printed, in output that is pasted into reports.
func TestInfoMirrorPassword(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{{"info"}, {"info", "--format", "{{json .RegistryConfig}}"}} {
		out, err := strata(t, root, nil, append([]string{"--registry-mirror", "https://u:s3cret@mirror.example.com"}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if strings.Contains(out, "s3cret") || !strings.Contains(out, "https://u:xxxxx@mirror.example.com") {
			t.Errorf("%v shows the mirror as:\n%s\nwant https://u:xxxxx@mirror.example.com", args, out)
		}
	}
}

// TestInfoDamagedIndex: a store whose index.json does not parse is told of in info's
// warnings, as a store that cannot be listed is; info counted no image and said nothing,
// where images and system df fail on it.
func TestInfoDamagedIndex(t *testing.T) {
	root := t.TempDir()
	g := &globals{root: root}
	if err := os.MkdirAll(g.storeDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.storeDir(), "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.storeDir(), "index.json"), []byte("\x00junk{"), 0o600); err != nil {
		t.Fatal(err)
	}
	var info systemInfo
	infoImages(g, &info)
	if info.Images != 0 || len(info.Warnings) != 1 || !strings.HasPrefix(info.Warnings[0], "WARNING: the image store cannot be read: ") || strings.Contains(info.Warnings[0], "\n") {
		t.Errorf("infoImages of a damaged index.json = %d images, warnings %q; want one warning", info.Images, info.Warnings)
	}
}
