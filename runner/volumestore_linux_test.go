package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
)

func TestValidateVolumeName(t *testing.T) {
	for _, ok := range []string{"ab", "my_vol", "a.b-c_d", "0x", strings.Repeat("a", MaxVolumeNameLen)} {
		if err := ValidateVolumeName(ok); err != nil {
			t.Errorf("ValidateVolumeName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "..", "../x", "a/b", "/abs", ".hidden", "_x", "-x", "a b", "a\x00b", "é1", "a:b", strings.Repeat("a", MaxVolumeNameLen+1)} {
		if err := ValidateVolumeName(bad); !errors.Is(err, ErrInvalidVolumeName) {
			t.Errorf("ValidateVolumeName(%q) = %v, want ErrInvalidVolumeName", bad, err)
		}
	}
}

// TestVolumeStore: create (atomic, idempotent, random name), get, names, remove, and the
// refusal of a volume dir or data dir that is a symlink, a file, or reached by a bad name.
func TestVolumeStore(t *testing.T) {
	base := t.TempDir()
	s := OpenVolumeStore(filepath.Join(base, "volumes"))
	if names, err := s.Names(); err != nil || names != nil {
		t.Fatalf("Names of a store never made = %v, %v", names, err)
	}
	if _, err := s.Get("vol"); !errors.Is(err, ErrNoSuchVolume) {
		t.Errorf("Get of a missing volume: %v", err)
	}
	v, created, err := s.Create("vol", map[string]string{"a": "b"})
	if err != nil || !created || v.Name != "vol" || v.Driver != "local" || v.Scope != "local" || v.Mountpoint != filepath.Join(base, "volumes", "vol", "_data") || v.Labels["a"] != "b" {
		t.Fatalf("Create = %+v, %v, %v", v, created, err)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		t.Errorf("data dir: %v, %v", fi, err)
	}
	if fi, err := os.Stat(s.Dir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("store dir: %v, %v; want 0700", fi, err)
	}
	if _, created, err := s.Create("vol", nil); err != nil || created {
		t.Errorf("Create of an existing volume: created %v, %v", created, err)
	}
	anon, _, err := s.Create("", nil)
	if err != nil || len(anon.Name) != 64 {
		t.Errorf("Create without a name: %+v, %v", anon, err)
	}
	if empty, err := s.Empty("vol"); !empty || err != nil {
		t.Errorf("Empty of a new volume = %v, %v", empty, err)
	}
	os.WriteFile(filepath.Join(v.Mountpoint, "f"), nil, 0o644)
	if empty, err := s.Empty("vol"); empty || err != nil {
		t.Errorf("Empty of a volume holding a file = %v, %v", empty, err)
	}
	if names, err := s.Names(); err != nil || len(names) != 2 {
		t.Errorf("Names = %v, %v", names, err)
	}
	for _, bad := range []string{"../x", "a/b", "", "."} {
		if _, err := s.Get(bad); !errors.Is(err, ErrInvalidVolumeName) {
			t.Errorf("Get(%q) = %v", bad, err)
		}
		if err := s.Remove(bad); !errors.Is(err, ErrInvalidVolumeName) {
			t.Errorf("Remove(%q) = %v", bad, err)
		}
	}

	// A volume dir, then a data dir, replaced by a symlink: refused, nothing followed.
	outside := t.TempDir()
	vdir := filepath.Join(s.Dir(), "vol")
	os.Rename(vdir, filepath.Join(outside, "vol"))
	os.Symlink(filepath.Join(outside, "vol"), vdir)
	if err := s.Check("vol"); err == nil || !strings.Contains(err.Error(), "is a symlink") {
		t.Errorf("Check of a symlinked volume dir = %v", err)
	}
	if err := s.Remove("vol"); err == nil {
		t.Error("Remove followed a symlinked volume dir")
	}
	os.Remove(vdir)
	os.Rename(filepath.Join(outside, "vol"), vdir)
	data := filepath.Join(vdir, "_data")
	os.Rename(data, filepath.Join(outside, "data"))
	os.Symlink(filepath.Join(outside, "data"), data)
	if _, err := s.Get("vol"); err == nil || !strings.Contains(err.Error(), "_data is a symlink") {
		t.Errorf("Get with a symlinked _data = %v", err)
	}
	os.Remove(data)
	os.WriteFile(data, nil, 0o644)
	if err := s.Check("vol"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Check with a file for _data = %v", err)
	}
	os.Remove(data)
	os.Rename(filepath.Join(outside, "data"), data)
	if err := s.Check("vol"); err != nil {
		t.Fatal(err)
	}

	if err := s.Remove("vol"); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(s.Dir()); len(ents) != 1 || ents[0].Name() != anon.Name {
		t.Errorf("store after Remove holds %v", ents)
	}
	if err := s.Remove("vol"); !errors.Is(err, ErrNoSuchVolume) {
		t.Errorf("second Remove = %v", err)
	}
}

// TestVolumeStoreLocks: the store's lock shared by runs, exclusive for a removal; a volume's
// own lock is exclusive.
func TestVolumeStoreLocks(t *testing.T) {
	s := OpenVolumeStore(filepath.Join(t.TempDir(), "volumes"))
	ctx := context.Background()
	u1, err := s.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := s.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(short, true); err == nil {
		t.Error("exclusive lock taken while shared ones are held")
	}
	u1()
	u2()
	u3, err := s.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	u3()
	if _, _, err := s.Create("vol", nil); err != nil {
		t.Fatal(err)
	}
	l1, err := s.LockVolume(ctx, "vol")
	if err != nil {
		t.Fatal(err)
	}
	short2, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if _, err := s.LockVolume(short2, "vol"); err == nil {
		t.Error("a volume's lock taken twice")
	}
	l1()
}

// TestCheckNamedVolume: a container's named volume mount must be its volume's data dir in the
// store beside the container store: a config.json edited to bind elsewhere is refused.
func TestCheckNamedVolume(t *testing.T) {
	root := t.TempDir()
	s := OpenVolumeStore(filepath.Join(root, NamedVolumesDir))
	if _, _, err := s.Create("vol", nil); err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: strings.Repeat("a", 64), Dir: filepath.Join(root, "containers", strings.Repeat("a", 64))}
	m := namedVolumeMount("vol", "/x", false, false, "")
	m.Source = s.DataDir("vol")
	if err := checkNamedVolume(c, m, "vol"); err != nil {
		t.Errorf("checkNamedVolume of the volume's own dir: %v", err)
	}
	for _, src := range []string{"/etc", filepath.Join(root, "volumes", "vol"), filepath.Join(root, "volumes", "vol", "_data", "..", "..", "..")} {
		m.Source = src
		if err := checkNamedVolume(c, m, "vol"); err == nil {
			t.Errorf("checkNamedVolume with source %s: nil", src)
		}
	}
	m.Source = s.DataDir("gone")
	if err := checkNamedVolume(c, mount.Mount{Type: TypeVolume, Source: m.Source, Options: []string{optVolumeNamePrefix + "gone"}}, "gone"); !errors.Is(err, ErrNoSuchVolume) {
		t.Errorf("checkNamedVolume of a removed volume = %v", err)
	}
}

// TestVolumeStoreCreateLabelsTooBig: labels whose volume.json would be more than Get reads
// (1 MiB of '<', which JSON writes as \u003c, six bytes each; a label file's worth spread over
// many --mount volume-label= of one volume) are refused before anything is made. Create wrote
// such a volume.json, then could not read it: the volume was left behind, refused by inspect,
// run and ls ("volume.json is not a file strata wrote").
func TestVolumeStoreCreateLabelsTooBig(t *testing.T) {
	s := OpenVolumeStore(filepath.Join(t.TempDir(), "volumes"))
	labels := map[string]string{}
	for i := range 3 {
		labels[strings.Repeat("k", i+1)] = strings.Repeat("<", 100000)
	}
	_, created, err := s.Create("big", labels)
	if err == nil || created || !strings.Contains(err.Error(), "labels") {
		t.Errorf("Create with %d bytes of labels = created %v, %v; want refused for its labels", jsonSize(labels), created, err)
	}
	if names, err := s.Names(); err != nil || len(names) != 0 {
		t.Errorf("store after the refused Create holds %v, %v", names, err)
	}
	if ents, _ := os.ReadDir(s.Dir()); len(ents) != 0 {
		t.Errorf("store after the refused Create holds %v", ents)
	}
	// Just under the bound is made, and reads back whole.
	fit := map[string]string{"k": strings.Repeat("v", maxVolumeMeta-1024)}
	v, created, err := s.Create("fits", fit)
	if err != nil || !created || v.Labels["k"] != fit["k"] {
		t.Errorf("Create with labels that fit = created %v, %v", created, err)
	}
}

// TestVolumeStoreRemoveDamaged: volume rm of a volume whose _data is no dir of its own (a
// symlink to a host dir, a file, a FIFO, gone) removes the volume, and the symlink without
// what it leads to, as docker's local driver removes a volume whose _data is a file: it
// refused each, so the volume stayed, warned of by every volume ls, until removed by hand. A
// volume dir that is itself a symlink, or a _data that is a mount point, is still refused.
func TestVolumeStoreRemoveDamaged(t *testing.T) {
	s := OpenVolumeStore(filepath.Join(t.TempDir(), "volumes"))
	outside := t.TempDir()
	keep := filepath.Join(outside, "keep")
	if err := os.WriteFile(keep, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	damage := map[string]func(data string) error{
		"symlink": func(data string) error { return os.Symlink(outside, data) },
		"file":    func(data string) error { return os.WriteFile(data, nil, 0o644) },
		"fifo":    func(data string) error { return unix.Mkfifo(data, 0o644) },
		"gone":    func(string) error { return nil },
	}
	for name, f := range damage {
		v, _, err := s.Create(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(v.Mountpoint); err != nil {
			t.Fatal(err)
		}
		if err := f(v.Mountpoint); err != nil {
			t.Fatal(err)
		}
		if err := s.Check(name); err == nil {
			t.Fatalf("Check of a volume whose _data is a %s passed", name)
		}
		if err := s.Remove(name); err != nil {
			t.Errorf("Remove of a volume whose _data is a %s = %v", name, err)
		}
	}
	if ents, _ := os.ReadDir(s.Dir()); len(ents) != 0 {
		t.Errorf("store after the removals holds %v", ents)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "host\n" {
		t.Errorf("the dir a _data symlink led to lost its file: %q, %v", b, err)
	}

	// Still refused: the volume dir a symlink, _data a mount point.
	v, _, err := s.Create("vdir", nil)
	if err != nil {
		t.Fatal(err)
	}
	vdir := filepath.Dir(v.Mountpoint)
	if err := os.Rename(vdir, filepath.Join(outside, "vdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "vdir"), vdir); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("vdir"); err == nil || !strings.Contains(err.Error(), "is a symlink") {
		t.Errorf("Remove of a volume dir that is a symlink = %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "vdir", "_data")); err != nil {
		t.Errorf("the volume dir a symlink led to: %v", err)
	}
	if os.Getuid() == 0 {
		v, _, err := s.Create("mnt", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", v.Mountpoint, "tmpfs", 0, ""); err != nil {
			t.Skipf("mount: %v", err)
		}
		defer unix.Unmount(v.Mountpoint, unix.MNT_DETACH)
		if err := s.Remove("mnt"); err == nil || !strings.Contains(err.Error(), "mount point") {
			t.Errorf("Remove of a volume whose _data is a mount point = %v", err)
		}
	}
}
