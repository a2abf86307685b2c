package registry

import (
	"context"
	"net/http"
	"testing"
)

// TestLocalRegistryRedirectsToAddress: a registry on the local network may send blobs to
// another local host named by its address, not only by a name (a distribution registry whose
// S3 storage is a MinIO at http://10.0.0.7:9000, a loopback registry sending strata to [::1]),
// as docker follows such a redirect. go-containerregistry's redirect check refused it ("SSRF
// protection: redirect from "registry.corp" to private/link-local host "10.0.0.7" denied"),
// for the config blob it fetches itself; strata's own rule (dialGuard, homeGuard) is the one
// that judges where a redirect may go. The registry's credentials stay home.
func TestLocalRegistryRedirectsToAddress(t *testing.T) {
	auths := map[string]func(http.Handler) http.Handler{
		"anonymous": nil,
		"basic":     basicAuth("alice", "s3cret"),
		"bearer":    (&tokenServer{user: "alice", pass: "s3cret"}).wrap,
	}
	for name, c := range map[string]struct{ registry, store, storeURL string }{
		"10.0.0.5 to 10.0.0.7":    {"10.0.0.5", "10.0.0.7:9000", "http://10.0.0.7:9000"},
		"127.0.0.1 to [::1]":      {"127.0.0.1", "[::1]:9000", "http://[::1]:9000"},
		"192.168.1.2 to [fd00::]": {"192.168.1.2", "[fd00::7]:9000", "http://[fd00::7]:9000"},
	} {
		for authName, auth := range auths {
			t.Run(name+"/"+authName, func(t *testing.T) {
				n := newFakeNet()
				back := backend()
				store := &cdn{backend: back}
				storeSrv := newServer(t, store)
				var reg http.Handler = back
				if auth != nil {
					reg = auth(back)
				}
				regSrv := newServer(t, redirectBlobs(c.storeURL, reg))
				n.host("registry.corp", c.registry)
				n.route(c.registry+":5000", regSrv)
				n.route(c.store, storeSrv)
				opts := withAuth("alice", "s3cret")
				opts.Insecure = true
				opts.net = n.hooks()
				ref := mustRef(t, "registry.corp:5000/app/x:1")
				if err := Push(context.Background(), ref, randomImage(t), opts); err != nil {
					t.Fatalf("Push = %v", err)
				}
				p, err := NewPuller(opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := pullAll(context.Background(), p, ref); err != nil {
					t.Fatalf("pull from a local registry redirecting to a local blob store = %v", err)
				}
				store.mu.Lock()
				defer store.mu.Unlock()
				if store.hits == 0 {
					t.Error("the blob store was never asked: the redirect was not followed")
				}
				if len(store.auth) > 0 {
					t.Errorf("the blob store was sent the registry's credentials: %q", store.auth)
				}
			})
		}
	}
}
