package registry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTokenAnswerWorded: a token service that answers 200 with something else than a token
// (not JSON, a JSON array, expires_in as a string or out of range, no token) fails the pull in
// one line that says the token service answered with no token. It said Go's words alone:
// "pulling REPO: json: cannot unmarshal array into Go value of type transport.Token".
func TestTokenAnswerWorded(t *testing.T) {
	for name, body := range map[string]string{
		"html":                "<html>hello</html>",
		"array":               `[{"token":"t"}]`,
		"expires_in string":   `{"token":"t","expires_in":"60"}`,
		"expires_in 1e300":    `{"token":"t","expires_in":1e300}`,
		"token of wrong type": `{"token":5}`,
		"no token":            `{}`,
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
