package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestErrorDetailNotGoMaps: a registry error's detail that is not text (the access a
// distribution registry says a request lacked, a list of objects) is left out of the message,
// as docker leaves every detail out; go-containerregistry printed it with %v, and every
// push that registry refused ended "; [map[Action:pull Class: Name:red/detail Type:repository]
// …]". A detail that is text is the registry's words, and is kept.
func TestErrorDetailNotGoMaps(t *testing.T) {
	for _, tt := range []struct{ body, want, not string }{
		{`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"red/detail","Action":"pull"}]}]}`,
			"(UNAUTHORIZED: authentication required)", "map["},
		{`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied","detail":{"reason":{"x":1}}}]}`,
			"(DENIED: requested access to the resource is denied)", "map["},
		{`{"errors":[{"code":"DENIED","message":"quota exceeded","detail":"the project holds 10 GiB"}]}`,
			"DENIED: quota exceeded; the project holds 10 GiB", ""},
	} {
		host := serve(t, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if isStart(r) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					w.Write([]byte(tt.body))
					return
				}
				next.ServeHTTP(w, r)
			})
		})
		err := Push(context.Background(), mustRef(t, host+"/red/detail:1"), randomImage(t), testOptions())
		if err == nil {
			t.Fatal("Push succeeded")
		}
		if msg := err.Error(); !strings.Contains(msg, tt.want) || (tt.not != "" && strings.Contains(msg, tt.not)) {
			t.Errorf("Push = %q, want it to hold %q", msg, tt.want)
		}
	}
}
