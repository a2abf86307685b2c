package registry

import (
	"errors"
	"testing"
)

// TestLogoutNamespaceKeptOnlyWhenHeld: logout of a namespace that finds no key of it says the
// registry's own credentials are kept (KeptFor) only when the registry has some, an auths
// entry or a credHelpers entry of its own: a global credsStore, every host's helper, made
// every such logout say so, of registries that had none.
func TestLogoutNamespaceKeptOnlyWhenHeld(t *testing.T) {
	for _, tt := range []struct {
		config string
		kept   bool
	}{
		{`{"credsStore":"desktop"}`, false},
		{`{"credsStore":"desktop","credHelpers":{"other.example":"pass"}}`, false},
		{`{"credsStore":"desktop","credHelpers":{"quay.io":""}}`, false},
		{`{"credsStore":"desktop","auths":{"quay.io":{"auth":"eDp5"}}}`, true},
		{`{"credHelpers":{"quay.io":"pass"}}`, true},
		{`{"auths":{"quay.io":{"auth":"eDp5"}}}`, true},
		{`{}`, false},
	} {
		t.Run(tt.config, func(t *testing.T) {
			t.Setenv("HOME", t.TempDir())
			dockerConfigDir(t, tt.config)
			err := Logout("quay.io/orga")
			if !errors.Is(err, ErrNotLoggedIn) {
				t.Fatalf("Logout(quay.io/orga) = %v, want ErrNotLoggedIn", err)
			}
			if host, ok := KeptFor(err); ok != tt.kept || (ok && host != "quay.io") {
				t.Errorf("KeptFor(%v) = %q, %v; want kept %v", err, host, ok, tt.kept)
			}
		})
	}
}
