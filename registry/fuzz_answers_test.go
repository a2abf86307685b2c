package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childManifest is the image manifest a fuzzed manifest list may name, @C and @c its config's
// digest and size.
const childManifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"@C","size":@c},"layers":[]}`

// FuzzRegistryAnswers pulls from a registry whose answers are hostile: the challenge of its
// ping (@R stands for its token endpoint), the token JSON, the manifest's status,
// Content-Type, Retry-After and Link headers and body, and the config blob (@C and @c in the
// manifest stand for its digest and size; in a manifest list, @K and @k for an image
// manifest of that config). The pull gives an image or a one-line error, never a panic or a
// hang, and nothing of the answers' control characters reaches the message.
func FuzzRegistryAnswers(f *testing.F) {
	const (
		manifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"@C","size":@c},"layers":[]}`
		config   = `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
		mt       = "application/vnd.oci.image.manifest.v1+json"
	)
	f.Add(`Bearer realm="@R",service="registry",scope="repository:x/y:pull"`, `{"token":"t","expires_in":60}`, uint16(200), mt, "", "", manifest, config)
	f.Add(`Basic realm="r"`, ``, uint16(429), mt, "1", `</v2/_catalog?n=1>; rel="next"`, manifest, config)
	f.Add(`Bearer realm="@R\"x",error="insufficient_scope"`, `{"access_token":"a","issued_at":"garbage"}`, uint16(503), "text/html", "Wed, 21 Oct 2015 07:28:00 GMT", "", `<html>`, config)
	f.Add(`Bearer  realm=@R , ,service`, `{"token":1}`, uint16(401), "", "99999999999999999999", "", `{"errors":[{"code":"DENIED","message":"no\x1b[2J"}]}`, ``)
	f.Add(`Bearer realm="http://[::1`, `null`, uint16(200), "application/vnd.docker.distribution.manifest.list.v2+json", "-1", "", `{"manifests":[{"digest":"@C","size":@c,"platform":{"os":"linux","architecture":"amd64"}}]}`, config)
	// A manifest list, without auth, naming the image manifest of the config and others.
	f.Add(``, ``, uint16(200), "application/vnd.oci.image.index.v1+json", "", "", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"@K","size":@k,"platform":{"os":"linux","architecture":"arm64"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"@K","size":@k,"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"@C","size":@c}]}`, config)
	f.Fuzz(func(t *testing.T, challenge, token string, status uint16, contentType, retryAfter, link, manifest, config string) {
		digest := func(b string) string { s := sha256.Sum256([]byte(b)); return "sha256:" + hex.EncodeToString(s[:]) }
		cd := digest(config)
		// An image manifest of the config, which a manifest list may name as @K (its size @k).
		child := strings.NewReplacer("@C", cd, "@c", strconv.Itoa(len(config))).Replace(childManifest)
		kd := digest(child)
		manifest = strings.NewReplacer("@C", cd, "@c", strconv.Itoa(len(config)), "@K", kd, "@k", strconv.Itoa(len(child))).Replace(manifest)
		code := int(status)
		if code < 100 || code > 999 {
			code = 200
		}
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			switch {
			case r.URL.Path == "/token":
				h.Set("Content-Type", "application/json")
				w.Write([]byte(token))
			case r.Header.Get("Authorization") == "" && challenge != "":
				h.Set("WWW-Authenticate", strings.ReplaceAll(challenge, "@R", srv.URL+"/token"))
				w.WriteHeader(http.StatusUnauthorized)
			case r.URL.Path == "/v2/":
				w.WriteHeader(http.StatusOK)
			case strings.HasSuffix(r.URL.Path, "/manifests/"+kd):
				h.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				w.Write([]byte(child))
			case strings.HasSuffix(r.URL.Path, "/manifests/1") || strings.Contains(r.URL.Path, "/manifests/sha256:"):
				h.Set("Content-Type", contentType)
				h.Set("Retry-After", retryAfter)
				h.Set("Link", link)
				h.Set("Docker-Content-Digest", digest(manifest))
				w.WriteHeader(code)
				if r.Method != http.MethodHead {
					w.Write([]byte(manifest))
				}
			case strings.HasSuffix(r.URL.Path, "/blobs/"+cd):
				w.Write([]byte(config))
			default:
				w.WriteHeader(http.StatusNotFound)
			}
		}))
		defer srv.Close()
		p, err := NewPuller(testOptions())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ref := mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/x/y:1")
		img, err := p.Image(ctx, ref)
		if err == nil {
			_, err = img.ConfigFile()
		}
		if ctx.Err() != nil {
			t.Fatalf("the pull took a minute: %v", err)
		}
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r\x1b\x07") || len(msg) > 4096 {
				t.Errorf("error is not one short line: %q", msg)
			}
		}
	})
}
