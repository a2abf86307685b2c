package registry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRedirectOffHTTP: a registry that redirects a manifest or a blob to a URL net/http
// cannot fetch (ftp://, file:///, javascript:) fails the pull in one line that names the
// registry and where it sent strata, without the URL's query (a signed URL's secrets). It said
// `pulling REPO: unsupported protocol scheme "ftp"`: neither the place nor that the registry
// had sent strata there.
func TestRedirectOffHTTP(t *testing.T) {
	img := randomImage(t)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layer := digestOf(t, layers[0])
	var to atomic.Value
	var what atomic.Value
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, what.Load().(string)) {
				w.Header().Set("Location", to.Load().(string))
				w.WriteHeader(http.StatusFound)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	what.Store("/none/")
	ref := pushImage(t, host+"/off/http:1", img)
	for _, tt := range []struct{ where, location, want string }{
		{"/manifests/", "ftp://files.example/x?sig=s3cret", "redirected strata to ftp://files.example/x, which is not an http or https URL"},
		{"/blobs/" + layer.String(), "file:///etc/passwd", "redirected strata to file:///etc/passwd, which is not an http or https URL"},
		{"/blobs/" + layer.String(), "javascript:alert(1)", "redirected strata to javascript:…, which is not an http or https URL"},
	} {
		what.Store(tt.where)
		to.Store(tt.location)
		err := func() error {
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Image(context.Background(), ref)
			if err != nil {
				return err
			}
			rc, err := got.FetchBlob(context.Background(), layer, 0)
			if err == nil {
				io.Copy(io.Discard, rc)
				rc.Close()
			}
			return err
		}()
		if err == nil || !strings.Contains(err.Error(), "registry "+host+" "+tt.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("redirect of %s to %s: %v; want it to say registry %s %s", tt.where, tt.location, err, host, tt.want)
		}
	}
}
