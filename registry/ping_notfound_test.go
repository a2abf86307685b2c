package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPingNotFound: a host whose /v2/ answers 404 (a web server, a port that is not the
// registry's) fails a pull, a push and a login saying there is no registry there, naming the
// host: every registry answers /v2/. A pull said "repository HOST/x not found", as if only the
// repository's name were wrong.
func TestPingNotFound(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<html><body>Not Found</body></html>"))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	_, pullErr := p.Image(ctx, mustRef(t, host+"/x:1"))
	pushErr := Push(ctx, mustRef(t, host+"/x:1"), randomImage(t), testOptions())
	loginErr := Login(ctx, host, "u", "pw", testOptions())
	for what, err := range map[string]error{"pull": pullErr, "push": pushErr, "login": loginErr} {
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), host+" answered HTTP 404 to /v2/") || !strings.Contains(err.Error(), "no registry there") {
			t.Errorf("%s from a host whose /v2/ is 404 = %v, want ErrNotFound saying no registry is there", what, err)
		}
	}
}
