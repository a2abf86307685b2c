package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a registries.json and returns its path.
func writeConfig(t *testing.T, cfg Config) string {
	t.Helper()
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "registries.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// deadHost returns a 127.0.0.1 address nothing listens on any more.
func deadHost(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	return host
}

func TestMirrorFallback(t *testing.T) {
	img := randomImage(t)
	upCount := &counter{sub: "/manifests/"}
	upstream := serve(t, upCount.wrap)
	ref := pushImage(t, upstream+"/mirrored/app:1", img)

	full := serve(t, nil) // a mirror that has the image
	pushImage(t, full+"/mirrored/app:1", img)
	empty := serve(t, nil) // a mirror that answers 404
	broken := serve(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				return // the ping works, every request after it fails
			}
			w.WriteHeader(http.StatusInternalServerError)
		})
	})
	dead := deadHost(t)

	tests := []struct {
		name       string
		mirrors    []string
		wantSource string
	}{
		{"mirror hit", []string{"http://" + full}, full},
		{"mirror 404 then upstream", []string{"http://" + empty}, upstream},
		{"mirror 500 then upstream", []string{"http://" + broken}, upstream},
		{"mirror down then upstream", []string{"http://" + dead}, upstream},
		{"mirrors in order", []string{"http://" + dead, "http://" + empty, "http://" + full}, full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.ConfigPath = writeConfig(t, Config{Registries: map[string]RegistryConfig{upstream: {Mirrors: tt.mirrors}}})
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			before := upCount.n.Load()
			got, err := p.Image(context.Background(), ref)
			if err != nil {
				t.Fatalf("Image(%s) = %v", ref, err)
			}
			if got.Source != tt.wantSource {
				t.Errorf("Image(%s).Source = %s, want %s", ref, got.Source, tt.wantSource)
			}
			if got.Descriptor.Digest != digestOf(t, img) {
				t.Errorf("Image(%s) digest = %s, want %s", ref, got.Descriptor.Digest, digestOf(t, img))
			}
			if hitUpstream := upCount.n.Load() > before; hitUpstream != (tt.wantSource == upstream) {
				t.Errorf("upstream asked for the manifest: %v, want %v", hitUpstream, tt.wantSource == upstream)
			}
			// Blobs come from where the manifest came from.
			layers, _ := got.Layers()
			body, err := got.FetchBlob(context.Background(), digestOf(t, layers[0]), 0)
			if err != nil {
				t.Fatalf("FetchBlob = %v", err)
			}
			body.Close()
		})
	}
}

func TestDockerHubMirror(t *testing.T) {
	// A docker.io reference with a --registry-mirror that has the image never reaches Docker
	// Hub, so this test needs no network. The mirror serves Hub's paths: library/alpine.
	img := randomImage(t)
	mirror := serve(t, nil)
	pushImage(t, mirror+"/library/alpine:3", img)

	opts := testOptions()
	opts.Mirrors = []string{"http://" + mirror}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, "alpine:3")
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		t.Fatalf("Image(%s) = %v", ref, err)
	}
	if got.Source != mirror || got.Descriptor.Digest != digestOf(t, img) || got.Ref.String() != "docker.io/library/alpine:3" {
		t.Errorf("Image(%s) = source %s, digest %s, ref %s; want %s, %s, docker.io/library/alpine:3",
			ref, got.Source, got.Descriptor.Digest, got.Ref, mirror, digestOf(t, img))
	}
	d, err := p.Head(context.Background(), ref)
	if err != nil || d.Digest != got.Root.Digest {
		t.Errorf("Head(%s) = %s, %v; want %s", ref, d.Digest, err, got.Root.Digest)
	}
}

func TestUpstreamErrorWins(t *testing.T) {
	// When every mirror and the registry fail, the registry's own error is reported.
	upstream := serve(t, nil)
	opts := testOptions()
	opts.ConfigPath = writeConfig(t, Config{Registries: map[string]RegistryConfig{upstream: {Mirrors: []string{"http://" + deadHost(t)}}}})
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, upstream+"/nothing/here:1")
	_, err = p.Image(context.Background(), ref)
	if !errors.Is(err, ErrNotFound) || err.Error() != "manifest for "+ref.String()+" not found" {
		t.Errorf("Image(%s) = %v, want the upstream's not found", ref, err)
	}
}

func TestMirrorOptionsInvalid(t *testing.T) {
	for _, m := range []string{"127.0.0.1:5000", "ftp://host", "http://host/path", "http://", "http://host?x=1", "http://u:p@host"} {
		opts := testOptions()
		opts.Mirrors = []string{m}
		if _, err := NewPuller(opts); err == nil {
			t.Errorf("NewPuller(Mirrors: %q) = nil error, want invalid mirror", m)
		}
	}
	for _, m := range []string{"http://127.0.0.1:5000", "https://mirror.gcr.io", "https://mirror.example.com/"} {
		opts := testOptions()
		opts.Mirrors = []string{m}
		if _, err := NewPuller(opts); err != nil {
			t.Errorf("NewPuller(Mirrors: %q) = %v", m, err)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, data string
		wantErr    bool
		check      func(*Config) bool
	}{
		{"missing file", "", false, func(c *Config) bool { return len(c.Registries) == 0 }},
		{"hub aliases", `{"registries":{"index.docker.io":{"mirrors":["https://m.example"]}}}`, false,
			func(c *Config) bool { return c.Registries["docker.io"].Mirrors[0] == "https://m.example" }},
		{"insecure", `{"registries":{"r.local:5000":{"insecure":true}}}`, false,
			func(c *Config) bool { return c.Registries["r.local:5000"].Insecure }},
		{"unknown field", `{"registries":{"r":{"insecur":true}}}`, true, nil},
		{"bad mirror", `{"registries":{"r":{"mirrors":["r2"]}}}`, true, nil},
		{"not json", `registries: {}`, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".json")
			if tt.data != "" {
				if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := LoadConfig(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("LoadConfig(%s) = %v, want error %v", tt.data, err, tt.wantErr)
			}
			if err == nil && !tt.check(c) {
				t.Errorf("LoadConfig(%s) = %+v", tt.data, c)
			}
		})
	}
}

// TestMirrorInvalidMessages pins what a bad mirror is told: what is wrong, in strata's words,
// the mirror quoted and cut to 64 bytes; net/url's text ("net/url: invalid control character
// in URL") quoted it a second time, whole.
func TestMirrorInvalidMessages(t *testing.T) {
	long := "https://" + strings.Repeat("h", 100000) + "/x"
	for _, tt := range []struct {
		mirror, want string
	}{
		{"http://a\x01b", `invalid mirror "http://a\x01b": it holds a control character`},
		{"http://mirror\n", `invalid mirror "http://mirror\n": it holds a control character`},
		{"http://[::1", `invalid mirror "http://[::1": not a URL; want scheme://host[:port]`},
		{"http://host:port", `invalid mirror "http://host:port": not a URL; want scheme://host[:port]`},
		{"ftp://host", `invalid mirror "ftp://host": scheme must be http or https`},
		{long, `invalid mirror "https://` + strings.Repeat("h", 56) + `"… (100010 bytes): want scheme://host[:port] only`},
		// A password is not printed, as docker's "username/password not allowed" shows it.
		{"https://u:s3cret@mirror", `invalid mirror "https://u:xxxxx@mirror": want scheme://host[:port] only`},
		{"https://u:s3cret@mirror:port/", `invalid mirror "https://u:xxxxx@mirror:port/": not a URL; want scheme://host[:port]`},
		{"u:s3cret@mirror:5000", `invalid mirror "u:xxxxx@mirror:5000": scheme must be http or https`},
		{"http://a:b@c\x01:s3cret@mirror", `invalid mirror "http://a:xxxxx@mirror": it holds a control character`},
		{"https://user@mirror", `invalid mirror "https://user@mirror": want scheme://host[:port] only`},
		{"https://u:pa/ss@mirror", `invalid mirror "https://u:xxxxx@mirror": not a URL; want scheme://host[:port]`},
	} {
		opts := testOptions()
		opts.Mirrors = []string{tt.mirror}
		_, err := NewPuller(opts)
		if want := "registry mirror: " + tt.want; err == nil || err.Error() != want {
			t.Errorf("NewPuller(Mirrors: %.40q) = %.300v, want %s", tt.mirror, err, want)
		}
	}
}
