package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
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
