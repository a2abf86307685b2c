package runner

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

func TestParseVolume(t *testing.T) {
	tests := []struct {
		in      string
		want    mount.Mount
		wantErr error
	}{
		{"/src:/dst", mount.Mount{Type: "bind", Source: "/src", Target: "/dst", Options: []string{"rbind", optCreate}}, nil},
		{"/src/:/dst/sub/../x:ro", mount.Mount{Type: "bind", Source: "/src", Target: "/dst/x", Options: []string{"rbind", "ro", optModePrefix + "ro", optCreate}}, nil},
		{"/src:/dst:rw,rslave,z", mount.Mount{Type: "bind", Source: "/src", Target: "/dst", Options: []string{"rbind", "rw", "rslave", optModePrefix + "rw,rslave,z", optCreate}}, nil},
		{"named:/dst", mount.Mount{}, ErrNamedVolume},
		{"named:/dst:ro", mount.Mount{}, ErrNamedVolume},
		{":/dst", mount.Mount{}, nil},
		{"/src:relative", mount.Mount{}, nil},
		{"/ctr", mount.Mount{Type: TypeVolume, Target: "/ctr", Options: []string{"rbind", "nodev"}}, nil},
		{"/ctr/sub/../x/", mount.Mount{Type: TypeVolume, Target: "/ctr/x", Options: []string{"rbind", "nodev"}}, nil},
		{"relative", mount.Mount{}, nil},
		{"", mount.Mount{}, nil},
		{"/a:/b:ro:extra", mount.Mount{}, nil},
		{"/src:/dst:bogus", mount.Mount{}, nil},
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
		{"type=volume,source=v,target=/d", mount.Mount{}, ErrNamedVolume},
		{"source=v,target=/d", mount.Mount{}, ErrNamedVolume},
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
	}
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
