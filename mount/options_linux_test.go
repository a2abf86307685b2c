package mount

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		options []string
		want    parsedOptions
	}{
		{"empty", nil, parsedOptions{}},
		{"flags", []string{"ro", "nosuid", "nodev", "noexec"}, parsedOptions{flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}},
		{"later word wins", []string{"ro", "rw"}, parsedOptions{}},
		{"rbind", []string{"rbind", "ro"}, parsedOptions{flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY}},
		{"propagation in order", []string{"bind", "rprivate", "shared"}, parsedOptions{flags: unix.MS_BIND, propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED}}},
		{"data", []string{"size=64m", "mode=1777", "nosuid"}, parsedOptions{flags: unix.MS_NOSUID, data: []string{"size=64m", "mode=1777"}}},
		{"empty word ignored", []string{"", "ro"}, parsedOptions{flags: unix.MS_RDONLY}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseOptions(tt.options); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseOptions(%q) = %+v, want %+v", tt.options, got, tt.want)
			}
		})
	}
}

func TestParseOverlayOptions(t *testing.T) {
	tests := []struct {
		name    string
		options []string
		want    overlayOptions
	}{
		{
			"full",
			[]string{"lowerdir=/l/top:/l/base", "upperdir=/c/upper", "workdir=/c/work", "index=off", "ro"},
			overlayOptions{lowers: []string{"/l/top", "/l/base"}, upper: "/c/upper", work: "/c/work", flags: unix.MS_RDONLY, data: []string{"index=off"}},
		},
		{
			"escaped colon",
			[]string{`lowerdir=/a\:b:/c`},
			overlayOptions{lowers: []string{"/a:b", "/c"}},
		},
		{
			"lowerdir+ words",
			[]string{"lowerdir+=/top", "lowerdir+=/base"},
			overlayOptions{lowers: []string{"/top", "/base"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseOverlayOptions(tt.options); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseOverlayOptions(%q) = %+v, want %+v", tt.options, got, tt.want)
			}
		})
	}
}

func TestOverlayDataRoundTrip(t *testing.T) {
	lowers := []string{"/a:b", `/c\d`, "/e,f", "/plain"}
	o := overlayOptions{data: []string{"index=off"}}
	data := o.overlayData(lowers, "/u", "/w")
	lowerOpt, _, _ := strings.Cut(data, ",upperdir=")
	got := splitLowers(strings.TrimPrefix(lowerOpt, "lowerdir="))
	// overlayfs reads backslash escapes in lowerdir; every special byte must survive.
	if !reflect.DeepEqual(got, lowers) {
		t.Errorf("splitLowers(overlayData(%q)) = %q, want %q", lowers, got, lowers)
	}
	if !strings.HasSuffix(data, ",upperdir=/u,workdir=/w,index=off") {
		t.Errorf("overlayData = %q, want upperdir, workdir and extra data at the end", data)
	}
}

func TestCommonParent(t *testing.T) {
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{"/r/snapshots/aa", "/r/snapshots/bb"}, "/r/snapshots"},
		{[]string{"/r/snapshots/aa"}, "/r/snapshots"},
		{[]string{"/r/snap/aa", "/r/snapshots/bb"}, "/r"},
		{[]string{"/a/x", "/b/y"}, "/"},
	}
	for _, tt := range tests {
		if got := commonParent(tt.paths); got != tt.want {
			t.Errorf("commonParent(%q) = %q, want %q", tt.paths, got, tt.want)
		}
	}
}

func TestMountAttrs(t *testing.T) {
	got := mountAttrs(unix.MS_RDONLY | unix.MS_NODEV | unix.MS_BIND)
	want := unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV
	if got != want {
		t.Errorf("mountAttrs(ro,nodev,bind) = %#x, want %#x", got, want)
	}
}
