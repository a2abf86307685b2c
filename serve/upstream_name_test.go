package serve

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// TestPullThroughNameTooLongUpstream: a name valid here (255 characters at most) that is too
// long once upstream's host is put before it cannot be pulled: that is the client's name at
// fault, a 404 NAME_INVALID, not a 502 of the upstream's, which clients retry. Upstream is
// never asked.
func TestPullThroughNameTooLongUpstream(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: were upstream asked, the answer would be a 502.
	pull, err := NewPullThrough("http://127.0.0.1:1", store, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := New(store, Options{PullThrough: pull})
	for _, name := range []string{strings.Repeat("a", 250), strings.Repeat("ab/", 83) + "ab"} {
		if len(name) > maxNameLen {
			t.Fatalf("test name of %d characters", len(name))
		}
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			rec := serveRaw(h, m, "/v2/"+name+"/manifests/latest", nil)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("%s of a name too long for upstream = %d %.300s, want 404", m, rec.Code, rec.Body.Bytes())
			}
			if m == http.MethodHead {
				continue
			}
			var e struct {
				Errors []apiError `json:"errors"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || len(e.Errors) != 1 || e.Errors[0].Code != codeNameInvalid {
				t.Errorf("GET of a name too long for upstream = %.300s, want %s", rec.Body.Bytes(), codeNameInvalid)
			}
		}
	}
}
