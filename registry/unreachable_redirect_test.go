package registry

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestBlobUnreachableAtRedirectNamesTheHost: a blob GET the registry redirects to a host that
// cannot be reached (a CDN down, a port closed) says that host, and that the registry sent it
// there; it said "registry HOST: connection refused" of the registry, which answered.
func TestBlobUnreachableAtRedirectNamesTheHost(t *testing.T) {
	img := randomImage(t)
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layer := digestOf(t, layers[0])
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, tt := range []struct {
		name    string
		missing v1.Hash
	}{
		{"config", cfg},
		{"layer", layer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var redirect atomic.Bool
			host := serve(t, redirectBlob(&redirect, tt.missing, "http://"+closed))
			ref := pushImage(t, host+"/cdn/app:1", img)
			redirect.Store(true)
			err := fetchMissing(t, ref, tt.missing, layer)
			if err == nil {
				t.Fatalf("pull of an image whose %s is redirected to a closed port = no error", tt.name)
			}
			want := fmt.Sprintf("blob %s:%s: connection refused at %s (redirected from %s)", tt.missing.Algorithm, tt.missing.Hex[:12], closed, host)
			if msg := err.Error(); !strings.Contains(msg, want) || !errors.Is(err, ErrUnreachable) || strings.Contains(msg, "sig=") {
				t.Errorf("error = %q, want ErrUnreachable saying %q", msg, want)
			}
		})
	}
}
