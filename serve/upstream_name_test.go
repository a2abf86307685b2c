package serve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// TestPullThroughNameTooLongUpstream: a name valid here (255 characters at most) that is too
// long once Docker Hub's "library/" is put before it cannot be pulled: that is the client's
// name at fault, a 404 NAME_INVALID, not a 502 of the upstream's, which clients retry.
// Upstream is never asked. Another upstream's host does not count against the 255, as
// docker's reference grammar (distribution/reference) bounds the path alone: such a name is
// asked for upstream (nothing listens on 127.0.0.1:1, hence a 502).
func TestPullThroughNameTooLongUpstream(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := NewPullThrough("docker.io", store, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Hub's pull is called only for a name its references refuse, so that no request can
	// leave this machine whatever the pull does with it.
	asked := false
	guarded := func(ctx context.Context, name, ref string) error {
		if _, err := registry.ParseReference("docker.io/" + name + ":" + ref); err == nil {
			asked = true
			return errors.New("the name would have been asked for upstream")
		}
		return hub(ctx, name, ref)
	}
	local, err := NewPullThrough("http://127.0.0.1:1", store, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pull PullFunc
		name string
		code int
		api  string
	}{
		{guarded, strings.Repeat("a", 248), http.StatusNotFound, codeNameInvalid},
		{guarded, strings.Repeat("a", 255), http.StatusNotFound, codeNameInvalid},
		{local, strings.Repeat("a", 250), http.StatusBadGateway, codeUnknown},
		{local, strings.Repeat("ab/", 84) + "abc", http.StatusBadGateway, codeUnknown},
	} {
		if len(tt.name) > maxNameLen {
			t.Fatalf("test name of %d characters", len(tt.name))
		}
		h := New(store, Options{PullThrough: tt.pull})
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			rec := serveRaw(h, m, "/v2/"+tt.name+"/manifests/latest", nil)
			if rec.Code != tt.code {
				t.Fatalf("%s of a name of %d characters = %d %.300s, want %d", m, len(tt.name), rec.Code, rec.Body.Bytes(), tt.code)
			}
			if m == http.MethodHead {
				continue
			}
			var e struct {
				Errors []apiError `json:"errors"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || len(e.Errors) != 1 || e.Errors[0].Code != tt.api {
				t.Errorf("GET of a name of %d characters = %.300s, want %s", len(tt.name), rec.Body.Bytes(), tt.api)
			}
		}
	}
	if asked {
		t.Error("a name too long for Docker Hub was asked for there")
	}
}
