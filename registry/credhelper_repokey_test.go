package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// TestCredentialHelperAskedForRegistryOnly: credential helpers are asked for a registry, as
// docker asks them, never for a repository ("host/app"): asked for it, credsStore ran in
// place of the registry's own credHelpers entry, and a credsStore that fails (docker's
// "desktop", copied from a Mac, not installed) failed the push that docker makes with the
// registry's helper. A repository's own auths entry (Podman's) is still found.
func TestCredentialHelperAskedForRegistryOnly(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	host := serve(t, basicAuth("alice", "s3cret"))
	asked := filepath.Join(t.TempDir(), "asked")
	fakeHelper(t, "hosts", `read server; echo "$server" >> `+asked+`; echo '{"Username":"alice","Secret":"s3cret"}'`)
	fakeHelper(t, "broken", `cat >/dev/null; echo 'no such store' >&2; exit 1`)
	dockerConfigDir(t, `{"credHelpers":{"`+host+`":"hosts"},"credsStore":"broken"}`)
	opts := testOptions()
	opts.Keychain = nil
	if err := Push(context.Background(), mustRef(t, host+"/team/app:1"), randomImage(t), opts); err != nil {
		t.Fatalf("Push with the registry's own helper = %v", err)
	}
	got, _ := os.ReadFile(asked)
	for _, s := range strings.Fields(string(got)) {
		if s != host {
			t.Errorf("the helper was asked for %q, want %s only", s, host)
		}
	}

	// A registry alone (a login's lookup) is asked for once, not twice, when the helper has
	// nothing.
	fakeHelper(t, "empty", `read server; echo "$server" >> `+asked+`-empty; echo 'credentials not found in native keychain'; exit 1`)
	dockerConfigDir(t, `{"credsStore":"empty"}`)
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	if auth, err := (&dockerKeychain{}).ResolveContext(context.Background(), reg); err != nil || auth != authn.Anonymous {
		t.Fatalf("Resolve(%s) = %v, %v; want Anonymous", host, auth, err)
	}
	if got, _ := os.ReadFile(asked + "-empty"); string(got) != host+"\n" {
		t.Errorf("the helper was asked for %q, want %s once", got, host)
	}

	// A repository's own auths entry, with a helper for the registry that fails.
	dockerConfigDir(t, `{"auths":{"`+host+`/team/app":{"auth":"YWxpY2U6czNjcmV0"}},"credsStore":"broken"}`)
	if err := Push(context.Background(), mustRef(t, host+"/team/app:2"), randomImage(t), opts); err != nil {
		t.Fatalf("Push with the repository's own auths entry = %v", err)
	}
}
