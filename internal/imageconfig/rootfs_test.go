package imageconfig

import (
	"strings"
	"testing"
)

func TestCheckRootFS(t *testing.T) {
	for _, tc := range []struct {
		config, wantErr string
	}{
		{`{"rootfs":{"type":"layers","diff_ids":[]}}`, ""},
		{`{"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}`, ""},
		{`null`, "no rootfs"},
		{`{}`, "no rootfs"},
		{`{"rootfs":null}`, "no rootfs"},
		{`{"rootfs":{}}`, "no type"},
		{`{"rootfs":{"type":"layers+base"}}`, `"layers+base", not "layers"`},
		{`{"rootfs":{"type":"\u001b[31m"}}`, `"\x1b[31m"`},
		{`{"rootfs":"layers"}`, "cannot unmarshal"},
	} {
		err := CheckRootFS([]byte(tc.config))
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.config, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one with %q", tc.config, err, tc.wantErr)
		}
	}
}
