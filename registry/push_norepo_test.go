package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestPushNoSuchRepository: a registry that does not create a repository on push (ECR, a
// Harbor project that is not there) and refuses the upload, or the manifest, with 404
// NAME_UNKNOWN fails the push saying so in its words, and what to do: it said "repository X
// not found", which dropped them ("The repository with name 'x/app' does not exist in the
// registry with id '123'") and left the user to guess.
func TestPushNoSuchRepository(t *testing.T) {
	const body = `{"errors":[{"code":"NAME_UNKNOWN","message":"The repository with name 'x/app' does not exist in the registry with id '123'"}]}`
	for _, where := range []string{"upload", "manifest"} {
		host := serve(t, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if where == "upload" && isStart(r) || where == "manifest" && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					w.Write([]byte(body))
					return
				}
				next.ServeHTTP(w, r)
			})
		})
		err := Push(context.Background(), mustRef(t, host+"/x/app:1"), randomImage(t), testOptions())
		want := "pushing " + host + "/x/app: registry " + host + " has no such repository and did not create it (NAME_UNKNOWN: The repository with name 'x/app' does not exist in the registry with id '123'); create it in the registry first"
		if err == nil || err.Error() != want || !errors.Is(err, ErrNotFound) {
			t.Errorf("push refused at the %s: %v\nwant %s", where, err, want)
		}
	}
}
