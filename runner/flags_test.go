package runner

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

func TestParseVolume(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	tests := []struct {
		in      string
		want    mount.Mount
		wantErr error
	}{
		{"/src:/dst", mount.Mount{Type: "bind", Source: "/src", Target: "/dst", Options: []string{"rbind", optCreate}}, nil},
		{"/src/:/dst/sub/../x:ro", mount.Mount{Type: "bind", Source: "/src", Target: "/dst/x", Options: []string{"rbind", "ro", optModePrefix + "ro", optCreate}}, nil},
		{"/src:/dst:rw,rslave,z", mount.Mount{Type: "bind", Source: "/src", Target: "/dst", Options: []string{"rbind", "rw", "rslave", optModePrefix + "rw,rslave,z", optCreate}}, nil},
		{"named:/dst", mount.Mount{Type: TypeVolume, Target: "/dst", Options: []string{"rbind", "nodev", optVolumeNamePrefix + "named"}}, nil},
		{"named:/dst/:ro,nocopy", mount.Mount{Type: TypeVolume, Target: "/dst", Options: []string{"rbind", "nodev", "ro", optNoCopy, optVolumeNamePrefix + "named", optModePrefix + "ro,nocopy"}}, nil},
		{"my_vol.1-x:/dst:rw,z", mount.Mount{Type: TypeVolume, Target: "/dst", Options: []string{"rbind", "nodev", optVolumeNamePrefix + "my_vol.1-x", optModePrefix + "rw,z"}}, nil},
		{"a/b:/dst", mount.Mount{}, ErrInvalidVolumeName},
		{"x:/dst", mount.Mount{}, ErrInvalidVolumeName},
		{"_x:/dst", mount.Mount{}, ErrInvalidVolumeName},
		{"v$:/dst", mount.Mount{}, ErrInvalidVolumeName},
		{"named:rel", mount.Mount{}, nil},
		{"named:/dst:rshared", mount.Mount{}, nil},
		{"named:/dst:ro,rw", mount.Mount{}, nil},
		{"named:/dst:nocopy,copy", mount.Mount{}, nil},
		{"named:/dst:bogus", mount.Mount{}, nil},
		{":/dst", mount.Mount{}, nil},
		{"/src:relative", mount.Mount{}, nil},
		{"/ctr", mount.Mount{Type: TypeVolume, Target: "/ctr", Options: []string{"rbind", "nodev"}}, nil},
		{"/ctr/sub/../x/", mount.Mount{Type: TypeVolume, Target: "/ctr/x", Options: []string{"rbind", "nodev"}}, nil},
		{"relative", mount.Mount{}, nil},
		{"", mount.Mount{}, nil},
		{"/a:/b:ro:extra", mount.Mount{}, nil},
		{"/src:/dst:bogus", mount.Mount{}, nil},
		// Docker's valid forms.
		{"/a:/b:ro,z", mount.Mount{Type: "bind", Source: "/a", Target: "/b", Options: []string{"rbind", "ro", optModePrefix + "ro,z", optCreate}}, nil},
		{"/a:/b:cached", mount.Mount{Type: "bind", Source: "/a", Target: "/b", Options: []string{"rbind", optModePrefix + "cached", optCreate}}, nil},
		{"/a:/b:delegated,rw,Z,rshared", mount.Mount{Type: "bind", Source: "/a", Target: "/b", Options: []string{"rbind", "rw", "rshared", optModePrefix + "delegated,rw,Z,rshared", optCreate}}, nil},
		{"/a:/b:", mount.Mount{Type: "bind", Source: "/a", Target: "/b", Options: []string{"rbind", optCreate}}, nil},
		{".:/src", mount.Mount{Type: "bind", Source: cwd, Target: "/src", Options: []string{"rbind", optCreate}}, nil},
		{"./sub/:/src:ro", mount.Mount{Type: "bind", Source: filepath.Join(cwd, "sub"), Target: "/src", Options: []string{"rbind", "ro", optModePrefix + "ro", optCreate}}, nil},
		{"../up:/src", mount.Mount{Type: "bind", Source: filepath.Join(filepath.Dir(cwd), "up"), Target: "/src", Options: []string{"rbind", optCreate}}, nil},
		// Docker's refusals: one word of each kind, nothing empty, no copy mode on a bind,
		// no options on an anonymous volume.
		{"/a:/b:ro,rw", mount.Mount{}, nil},
		{"/a:/b:z,Z", mount.Mount{}, nil},
		{"/a:/b:shared,rslave", mount.Mount{}, nil},
		{"/a:/b:cached,delegated", mount.Mount{}, nil},
		{"/a:/b:ro,", mount.Mount{}, nil},
		{"/a:/b:,", mount.Mount{}, nil},
		{"/a:/b:nocopy", mount.Mount{}, nil},
		{"/a:/b:ro,copy", mount.Mount{}, nil},
		{"/data:ro", mount.Mount{}, nil},
		{"/data:cached", mount.Mount{}, nil},
		{"/data:", mount.Mount{}, nil},
		{"/data::ro", mount.Mount{}, nil},
		{"/a:/", mount.Mount{Type: "bind", Source: "/a", Target: "/", Options: []string{"rbind", optCreate}}, nil}, // Validate refuses it
	}
	for _, tt := range tests {
		got, err := ParseVolume(tt.in)
		if tt.want.Type == "" {
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("ParseVolume(%q) = %+v, %v, want error %v", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseVolume(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMount(t *testing.T) {
	src := t.TempDir()
	missing := filepath.Join(src, "missing")
	comma := filepath.Join(src, "a,b")
	if err := os.Mkdir(comma, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in      string
		want    mount.Mount
		wantErr error
	}{
		{"type=bind,source=" + src + ",target=/d", mount.Mount{Type: "bind", Source: src, Target: "/d", Options: []string{"rbind"}}, nil},
		{"type=bind,src=" + src + ",dst=/d,readonly", mount.Mount{Type: "bind", Source: src, Target: "/d", Options: []string{"rbind", "ro"}}, nil},
		{"type=bind,src=" + src + ",destination=/d,ro=false,bind-propagation=rshared", mount.Mount{Type: "bind", Source: src, Target: "/d", Options: []string{"rbind", "rshared"}}, nil},
		{"type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770", mount.Mount{Type: "tmpfs", Source: "tmpfs", Target: "/t", Options: []string{"nosuid", "nodev", "noexec", "size=1048576", "mode=1770"}}, nil},
		{"type=bind,source=" + missing + ",target=/d", mount.Mount{}, nil},
		{"type=volume,source=vol,target=/d", mount.Mount{Type: TypeVolume, Target: "/d", Options: []string{"rbind", "nodev", optVolumeNamePrefix + "vol", optModePrefix + "z", optFromMount}}, nil},
		{"source=vol,target=/d,readonly,volume-nocopy", mount.Mount{Type: TypeVolume, Target: "/d", Options: []string{"rbind", "nodev", "ro", optNoCopy, optVolumeNamePrefix + "vol", optModePrefix + "z", optFromMount}}, nil},
		{"src=vol,dst=/d,volume-label=a=b,volume-label=c", mount.Mount{Type: TypeVolume, Target: "/d", Options: []string{"rbind", "nodev", optVolumeNamePrefix + "vol", optModePrefix + "z", optFromMount, optVolumeLabelPrefix + "a=b", optVolumeLabelPrefix + "c"}}, nil},
		{"src=vol,dst=/d,volume-label==b", mount.Mount{}, nil},
		{"source=v,target=/d", mount.Mount{}, ErrInvalidVolumeName},
		{"source=../x,target=/d", mount.Mount{}, ErrInvalidVolumeName},
		{"source=a/b,target=/d", mount.Mount{}, ErrInvalidVolumeName},
		{"source=vol,target=/d,volume-opt=type=nfs", mount.Mount{}, ErrUnsupported},
		{"type=volume,target=/d/", mount.Mount{Type: TypeVolume, Target: "/d", Options: []string{"rbind", "nodev", optModePrefix + "z"}}, nil},
		{"target=/d,readonly", mount.Mount{Type: TypeVolume, Target: "/d", Options: []string{"rbind", "nodev", "ro", optModePrefix + "z"}}, nil},
		{"type=volume", mount.Mount{}, nil},
		{"type=volume,target=rel", mount.Mount{}, nil},
		{"type=npipe,target=/d", mount.Mount{}, ErrUnsupported},
		{"type=bind,source=" + src, mount.Mount{}, nil},
		{"type=bind,source=rel,target=/d", mount.Mount{}, nil},
		{"type=tmpfs,target=/t,tmpfs-mode=99x", mount.Mount{}, nil},
		{"type=tmpfs,source=x,target=/t", mount.Mount{}, nil},
		{"type=bind,source=" + src + ",target=/d,unknown=1", mount.Mount{}, nil},
		{"type=bind,source=" + src + ",target=/d,readonly=maybe", mount.Mount{}, nil},
		{"type=bind,source=" + src + ",target=/d,bind-propagation=weird", mount.Mount{}, nil},
		// Docker reads the value as CSV, keys and the type and propagation in any case.
		{`type=bind,"source=` + comma + `","target=/a,b",readonly`, mount.Mount{Type: "bind", Source: comma, Target: "/a,b", Options: []string{"rbind", "ro"}}, nil},
		{`"type=bind",src=` + src + `,dst=/d,"bind-propagation=rshared"`, mount.Mount{Type: "bind", Source: src, Target: "/d", Options: []string{"rbind", "rshared"}}, nil},
		{"Type=BIND,Source=" + src + ",Target=/d,Bind-Propagation=RSlave,Consistency=cached", mount.Mount{Type: "bind", Source: src, Target: "/d", Options: []string{"rbind", "rslave"}}, nil},
		{"type=bind,src=.,dst=/d", mount.Mount{Type: "bind", Source: src, Target: "/d", Options: []string{"rbind"}}, nil},
		{"type=bind,src=" + src + ",dst=/d,bind-recursive=enabled,bind-nonrecursive=false", mount.Mount{Type: "bind", Source: src, Target: "/d", Options: []string{"rbind"}}, nil},
		{"type=bind,src=" + src + ",dst=/d,ro,bind-propagation=rprivate,bind-recursive=readonly", mount.Mount{Type: "bind", Source: src, Target: "/d", Options: []string{"rbind", "ro", "rprivate"}}, nil},
		{"type=tmpfs,dst=/t,tmpfs-size=0,tmpfs-mode=0", mount.Mount{Type: "tmpfs", Source: "tmpfs", Target: "/t", Options: []string{"nosuid", "nodev", "noexec"}}, nil},
		{"type=tmpfs,dst=/t,tmpfs-size=1MiB,tmpfs-mode=01777", mount.Mount{Type: "tmpfs", Source: "tmpfs", Target: "/t", Options: []string{"nosuid", "nodev", "noexec", "size=1048576", "mode=1777"}}, nil},
		{"type=volume,dst=/v,volume-label=a=b,volume-driver=local,volume-nocopy=false", mount.Mount{Type: TypeVolume, Target: "/v", Options: []string{"rbind", "nodev", optModePrefix + "z"}}, nil},
		// And refuses these; strata refuses what it cannot do as asked.
		{`type=bind,"src=` + src + `,dst=/d`, mount.Mount{}, nil}, // an open quote
		{"type=bind,src=" + src + ",dst=/d\nsecond,line", mount.Mount{}, nil},
		{"", mount.Mount{}, nil},
		{"type=bind,src=" + src + ",dst", mount.Mount{}, nil},
		{"type,src=" + src + ",dst=/d", mount.Mount{}, nil},
		{"type=bind,src=" + src + ",dst=/d,", mount.Mount{}, nil},
		{"type=bind,src=" + src + ",dst=/", mount.Mount{Type: "bind", Source: src, Target: "/", Options: []string{"rbind"}}, nil}, // Validate refuses it
		{"type=bind,src=" + src + ",dst=/d,tmpfs-size=1m", mount.Mount{}, nil},
		{"type=volume,dst=/d,bind-propagation=shared", mount.Mount{}, nil},
		{"type=tmpfs,dst=/d,volume-label=x", mount.Mount{}, nil},
		{"type=tmpfs,dst=/d,tmpfs-size=nan", mount.Mount{}, nil},
		{"type=tmpfs,dst=/d,tmpfs-size=1e3", mount.Mount{}, nil},
		{"type=tmpfs,dst=/d,tmpfs-mode=-1", mount.Mount{}, nil},
		// docker refuses an empty size, mode or bind-recursive; they were taken as unset.
		{"type=tmpfs,dst=/d,tmpfs-size=", mount.Mount{}, nil},
		{"type=tmpfs,dst=/d,tmpfs-mode=", mount.Mount{}, nil},
		{"type=bind,src=" + src + ",dst=/d,bind-recursive=", mount.Mount{}, nil},
		// And takes an empty volume-driver as its default, local.
		{"type=volume,dst=/v,volume-driver=", mount.Mount{Type: TypeVolume, Target: "/v", Options: []string{"rbind", "nodev", optModePrefix + "z"}}, nil},
		{"type=bind,src=" + src + ",dst=/d,bind-recursive=bogus", mount.Mount{}, nil},
		{"type=bind,src=" + src + ",dst=/d,bind-recursive=readonly", mount.Mount{}, nil},
		{"type=bind,src=" + src + ",dst=/d,bind-recursive=disabled", mount.Mount{}, ErrUnsupported},
		{"type=bind,src=" + src + ",dst=/d,bind-nonrecursive", mount.Mount{}, ErrUnsupported},
		{"type=bind,src=" + src + ",dst=/d,readonly,bind-recursive=writable", mount.Mount{}, ErrUnsupported},
		{"type=volume,dst=/v,volume-nocopy", mount.Mount{}, ErrUnsupported},
		{"type=volume,dst=/v,volume-driver=nfs", mount.Mount{}, ErrUnsupported},
		{"type=volume,dst=/v,volume-opt=type=tmpfs", mount.Mount{}, ErrUnsupported},
		{"type=image,src=alpine,dst=/v", mount.Mount{}, ErrUnsupported},
	}
	t.Chdir(src)
	for _, tt := range tests {
		got, err := ParseMount(tt.in)
		if tt.want.Type == "" {
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("ParseMount(%q) = %+v, %v, want error %v", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMount(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"/run", []string{"nosuid", "nodev", "noexec"}, true},
		{"/run:size=64m,mode=1777", []string{"nosuid", "nodev", "noexec", "size=67108864", "mode=1777"}, true},
		{"/run:exec,ro", []string{"nosuid", "nodev", "noexec", "exec", "ro"}, true},
		{"run", nil, false},
		{"/run:size=lots", nil, false},
		{"/x:size=1m,mode=1777", []string{"nosuid", "nodev", "noexec", "size=1048576", "mode=1777"}, true},
		{"/x:size=50%,uid=1000", []string{"nosuid", "nodev", "noexec", "size=50%", "uid=1000"}, true},
		{"/x:size=nan", nil, false},
		{"/x:size=%", nil, false},
		{"/x:size=-5%", nil, false},
		{"/x:x-strata.create", nil, false},
	}
	for _, tt := range tests {
		got, err := ParseTmpfs(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseTmpfs(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (got.Type != "tmpfs" || !reflect.DeepEqual(got.Options, tt.want)) {
			t.Errorf("ParseTmpfs(%q) = %+v, want options %q", tt.in, got, tt.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"100", 100, true}, {"100b", 100, true}, {"1k", 1024, true}, {"64m", 64 << 20, true},
		{"1.5g", 3 << 29, true}, {"2G", 2 << 30, true}, {"", 0, false}, {"b", 0, false},
		{"-1m", 0, false}, {"1x", 0, false}, {"99999999999t", 0, false},
		{"1MiB", 1 << 20, true}, {"1 kb", 1024, true}, {"2KB", 2048, true}, {"1p", 1 << 50, true},
		{"NaN", 0, false}, {"nan", 0, false}, {"inf", 0, false}, {"1e3", 0, false}, {"0x10", 0, false},
		{"1.2.3", 0, false}, {".5m", 0, false}, {" 1m", 0, false}, {"1mm", 0, false},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v, want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestValidateMountTargets(t *testing.T) {
	bind := func(target string) mount.Mount { return mount.Mount{Type: "bind", Source: "/tmp", Target: target} }
	for _, tt := range []struct {
		name   string
		mounts []mount.Mount
		want   string // "" means accepted
	}{
		{"plain", []mount.Mount{bind("/data"), tmpfsMount("/run")}, ""},
		{"nested", []mount.Mount{bind("/data"), bind("/data/sub")}, ""},
		{"root", []mount.Mount{bind("/")}, "destination can't be '/'"},
		{"root unclean", []mount.Mount{bind("/x/..")}, "destination can't be '/'"},
		{"duplicate", []mount.Mount{bind("/data"), tmpfsMount("/data/")}, "duplicate mount point: /data"},
		{"proc", []mount.Mount{bind("/proc")}, "inside /proc"},
		{"proc tmpfs", []mount.Mount{tmpfsMount("/proc")}, "inside /proc"},
		{"proc sys", []mount.Mount{bind("/proc/sys")}, "inside /proc"},
		{"proc sys through ..", []mount.Mount{bind("/x/../proc/sys")}, "inside /proc"},
		{"proc allowed file", []mount.Mount{bind("/proc/meminfo")}, ""},
		{"proc allowed file as tmpfs", []mount.Mount{tmpfsMount("/proc/meminfo")}, "inside /proc"},
		{"procfoo", []mount.Mount{bind("/procfoo")}, ""},
		{"ptmx", []mount.Mount{bind("/dev/ptmx")}, "link to its /dev/pts/ptmx"},
		{"under ptmx", []mount.Mount{tmpfsMount("/dev/x/../ptmx/y")}, "link to its /dev/pts/ptmx"},
		{"stdout", []mount.Mount{bind("/dev/stdout"), bind("/dev/fd/3")}, ""},
	} {
		err := validateMountTargets(tt.mounts)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: validateMountTargets = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: validateMountTargets = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	// Through the spec check every container creation runs.
	spec := Spec{Args: []string{"true"}, Mounts: []mount.Mount{bind("/proc/sys")}}
	if err := spec.withDefaults().validateInput(); err == nil {
		t.Error("validateInput accepted a bind on /proc/sys")
	}
}

func TestValidateHostnameLength(t *testing.T) {
	spec := Spec{Args: []string{"true"}, Hostname: strings.Repeat("a", 64)}
	if err := spec.withDefaults().validateInput(); err != nil {
		t.Errorf("a 64-byte hostname: %v", err)
	}
	spec.Hostname += "a"
	if err := spec.withDefaults().validateInput(); err == nil || !strings.Contains(err.Error(), "longer than 64 bytes") {
		t.Errorf("a 65-byte hostname: %v, want an error", err)
	}
}
