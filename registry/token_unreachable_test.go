package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

// TestUnreachableTokenServiceNamed: a token service (the registry's Bearer realm) that cannot
// be reached is named in the error, not the registry, which answered: "registry HOST:
// connection refused" sent users to a registry that was up. Both for a realm on the
// registry's private network, which strata relays, and for one it asks directly.
func TestUnreachableTokenServiceNamed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	for _, realmHost := range []string{fmt.Sprintf("127.0.0.1:%d", closed), fmt.Sprintf("localhost:%d", closed)} {
		t.Run(realmHost, func(t *testing.T) {
			reg := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+realmHost+`/token",service="registry"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			}))
			host := strings.TrimPrefix(reg.URL, "http://")
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			err = pullAll(context.Background(), p, mustRef(t, host+"/app/x:1"))
			if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), realmHost) || strings.Contains(err.Error(), "registry "+host+":") {
				t.Fatalf("pull with the token service %s down = %v; want it named, unreachable, not the registry %s", realmHost, err, host)
			}
		})
	}
}

// TestUnreachableRegistryItself: Docker Hub, printed docker.io, is reached at index.docker.io
// (or registry-1.docker.io): its own failure still reads "registry docker.io: …", not as a
// host it sent strata to.
func TestUnreachableRegistryItself(t *testing.T) {
	for _, tt := range []struct{ url, host, want string }{
		{"https://index.docker.io/v2/", "docker.io", "registry docker.io: connection refused"},
		{"https://registry-1.docker.io/v2/library/alpine/manifests/latest", "docker.io", "registry docker.io: connection refused"},
		{"https://127.0.0.1:5000/v2/", "127.0.0.1:5000", "registry 127.0.0.1:5000: connection refused"},
		{"https://auth.docker.io/token?scope=x", "docker.io", "auth.docker.io, where registry docker.io sent strata (its token service or a redirect): connection refused"},
	} {
		err := &url.Error{Op: "Get", URL: tt.url, Err: syscall.ECONNREFUSED}
		if got := classify(err, opPull, "manifest for x", "x", tt.host); got.Error() != tt.want {
			t.Errorf("classify(%s, host %s) = %q, want %q", tt.url, tt.host, got, tt.want)
		}
	}
}
