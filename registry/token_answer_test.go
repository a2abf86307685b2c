package registry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTokenAnswerWorded: a token service that answers 200 with something else than a token
// (not JSON, a JSON array, expires_in as a string or out of range, no token) fails the pull in
// one line that says the token service answered with no token, as does one whose answer is
// larger than go-containerregistry reads of it (64 KiB). It said Go's words alone:
// "pulling REPO: json: cannot unmarshal array into Go value of type transport.Token".
func TestTokenAnswerWorded(t *testing.T) {
	for name, body := range map[string]string{
		"html":                "<html>hello</html>",
		"array":               `[{"token":"t"}]`,
		"expires_in string":   `{"token":"t","expires_in":"60"}`,
		"expires_in 1e300":    `{"token":"t","expires_in":1e300}`,
		"token of wrong type": `{"token":5}`,
		"no token":            `{}`,
		// go-containerregistry reads 64 KiB of a token answer: past that it said "body
		// exceeds 65536 byte limit", naming neither the token service nor the handshake.
		"larger than 64 KiB": `{"token":"` + strings.Repeat("A", 100<<10) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" {
					io.WriteString(w, body)
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="x"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			}))
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Image(context.Background(), mustRef(t, host+"/x/y:1"))
			if err == nil {
				t.Fatal("Image() succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "the token service of "+host+" answered with no token") || strings.Contains(msg, "\n") {
				t.Errorf("Image() = %q, want one line that says the token service answered with no token", msg)
			}
		})
	}
}

// TestTokenRefreshTooLarge: a token fetched again in the middle of a pull (the registry
// refused the first one after a request) whose answer is larger than the 64 KiB
// go-containerregistry reads fails the pull saying the token service answered with no token,
// not "body exceeds 65536 byte limit".
func TestTokenRefreshTooLarge(t *testing.T) {
	var mu sync.Mutex
	var armed atomic.Bool // once the image is pushed
	tokens, used := 0, map[string]bool{}
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !armed.Load() {
				next.ServeHTTP(w, r)
				return
			}
			if r.URL.Path == "/token" {
				mu.Lock()
				tokens++
				n := tokens
				mu.Unlock()
				if n == 1 {
					io.WriteString(w, `{"token":"t1"}`)
					return
				}
				io.WriteString(w, `{"token":"`+strings.Repeat("A", 100<<10)+`"}`)
				return
			}
			if r.URL.Path != "/v2/" {
				tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				mu.Lock()
				fresh := ok && !used[tok]
				used[tok] = true
				mu.Unlock()
				if fresh {
					next.ServeHTTP(w, r)
					return
				}
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="x"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		})
	})
	ref := pushImage(t, host+"/x/y:1", randomImage(t))
	armed.Store(true)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	err = pullAll(context.Background(), p, ref)
	if err == nil {
		t.Fatal("pull succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "the token service of "+host+" answered with no token") || !strings.Contains(msg, "larger than the 64 KiB") || strings.Contains(msg, "\n") {
		t.Errorf("pull = %q, want one line that says the token service's answer was too large", msg)
	}
	if tokens < 2 {
		t.Errorf("the token was fetched %d times, want a refresh", tokens)
	}
}
