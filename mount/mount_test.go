package mount

import (
	"reflect"
	"testing"
)

func TestOverlayDirs(t *testing.T) {
	tests := []struct {
		name        string
		m           Mount
		lowers      []string
		upper, work string
	}{
		{"one lower", Mount{Type: "overlay", Options: []string{"lowerdir=/a"}}, []string{"/a"}, "", ""},
		{"list with escapes", Mount{Type: "overlay", Options: []string{`lowerdir=/a\:b:/c\\d`, "upperdir=/u", "workdir=/w", "nodev"}}, []string{"/a:b", `/c\d`}, "/u", "/w"},
		{"lowerdir+", Mount{Type: "overlay", Options: []string{"lowerdir+=/x:y", "lowerdir+=/z"}}, []string{"/x:y", "/z"}, "", ""},
		{"not overlay", Mount{Type: "bind", Source: "/s", Options: []string{"lowerdir=/a"}}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lowers, upper, work := tt.m.OverlayDirs()
			if !reflect.DeepEqual(lowers, tt.lowers) || upper != tt.upper || work != tt.work {
				t.Errorf("OverlayDirs() = %q, %q, %q; want %q, %q, %q", lowers, upper, work, tt.lowers, tt.upper, tt.work)
			}
		})
	}
}
