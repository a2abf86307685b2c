package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
)

// TestSearch: Search asks /v1/search with docker's q and n, and returns the results as the
// registry gave them; a registry without that API (404, as registry:2) is asked for its
// catalog, whose repositories holding the query are the results, named with the registry.
func TestSearch(t *testing.T) {
	var asked string
	host := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/search" {
				h.ServeHTTP(w, r)
				return
			}
			asked = r.URL.RawQuery
			w.Write([]byte(`{"num_results":3,"query":"alp","results":[
				{"name":"alpine","description":"A minimal image","star_count":10,"is_official":true,"is_automated":false},
				{"name":"me/alps","description":"","star_count":2,"is_official":false,"is_automated":true},
				{"name":"me/alpx","star_count":1}]}`))
		})
	})
	got, err := Search(context.Background(), host+"/alp", 2, testOptions())
	if err != nil {
		t.Fatalf("Search(%s/alp) = %v", host, err)
	}
	if asked != "q=alp&n=2" {
		t.Errorf("Search asked %q, want q=alp&n=2", asked)
	}
	want := []SearchResult{{Name: "alpine", Description: "A minimal image", StarCount: 10, IsOfficial: true}, {Name: "me/alps", StarCount: 2, IsAutomated: true}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Search(%s/alp) = %+v, want %+v (cut to the limit)", host, got, want)
	}

	// No search API: the catalog.
	plain := serve(t, nil)
	pushImage(t, plain+"/team/alpine:1", randomImage(t))
	pushImage(t, plain+"/team/busybox:1", randomImage(t))
	got, err = Search(context.Background(), plain+"/alp", 25, testOptions())
	if err != nil || len(got) != 1 || got[0] != (SearchResult{Name: plain + "/team/alpine"}) {
		t.Errorf("Search(%s/alp) of a registry without /v1/search = %+v, %v; want its catalog's team/alpine", plain, got, err)
	}
}

// TestSearchRefused: a limit out of docker's range, a scheme in the term, and answers that
// are no search result (not JSON, too large, an error status) each fail in one line.
func TestSearchRefused(t *testing.T) {
	answer := func(status int, body string) string {
		return serve(t, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					h.ServeHTTP(w, r)
					return
				}
				w.WriteHeader(status)
				w.Write([]byte(body))
			})
		})
	}
	for _, tc := range []struct {
		name, term string
		limit      int
		want       string
	}{
		{"limit 0", "localhost:1/x", 0, "limit 0 is outside the range of [1, 100]"},
		{"limit 101", "localhost:1/x", 101, "limit 101 is outside the range of [1, 100]"},
		{"scheme", "http://localhost:1/x", 25, "should not have a scheme"},
		{"not JSON", answer(200, "<html>") + "/x", 25, "not a search result"},
		{"too large", answer(200, `{"results":[`+strings.Repeat(`{"name":"x"},`, maxSearchBody/12)+`]}`) + "/x", 25, "not a search result"},
		{"500", answer(500, "") + "/x", 25, "searching 127.0.0.1:"},
		// Within the size bound, but a million values, which took 320 MB to parse.
		{"too many values", answer(200, `{"results":[`+strings.Repeat(`{},`, maxSearchBody/3-10)+`{}]}`) + "/x", 25, "not a search result: answer of more than 16384 JSON values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			opts.retry = &retryPolicy{attempts: 1}
			_, err := Search(context.Background(), tc.term, tc.limit, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Search(%q, %d) = %v, want one line with %q", tc.term, tc.limit, err, tc.want)
			}
		})
	}
}

func TestSplitSearchTerm(t *testing.T) {
	for _, tc := range []struct{ term, host, query string }{
		{"alpine", "docker.io", "alpine"},
		{"me/app", "docker.io", "me/app"},
		{"localhost/app", "localhost", "app"},
		{"127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app"},
		{"index.docker.io/alpine", "docker.io", "alpine"},
	} {
		if host, query := SplitSearchTerm(tc.term); host != tc.host || query != tc.query {
			t.Errorf("SplitSearchTerm(%q) = %q, %q; want %q, %q", tc.term, host, query, tc.host, tc.query)
		}
	}
}

// TestSearchDenied: a search the registry refuses (401 or 403, from its search API or its
// catalog) says that the search was refused, not that a pull was ("pull access denied for
// registry …"), with docker's advice to log in prior to search.
func TestSearchDenied(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		status     int
		body, want string
		creds      bool
	}{
		{"401 search", "/v1/search", 401, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`,
			"search access denied: the registry refused its search API (UNAUTHORIZED: authentication required); log in prior to search: `strata login HOST`", false},
		{"403 catalog", "/v2/_catalog", 403, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`,
			"search access denied: the registry refused its catalog (DENIED: requested access to the resource is denied); log in prior to search: `strata login HOST`", false},
		{"401 catalog, no body", "/v2/_catalog", 401, "",
			"search access denied: the registry refused its catalog (HTTP 401 Unauthorized); log in prior to search: `strata login HOST`", false},
		{"403 with credentials", "/v1/search", 403, "",
			"search access denied: the registry refused its search API (HTTP 403 Forbidden); the credentials stored for HOST do not allow it (`strata login HOST` to change them)", true},
		{"token refused", "/token", 401, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`,
			"search access denied: http://HOST/token refused a token for the search (UNAUTHORIZED: bad credentials); log in prior to search: `strata login HOST`", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := serve(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Path {
					case tc.path:
						w.WriteHeader(tc.status)
						w.Write([]byte(tc.body))
					case "/v2/":
						if tc.path == "/token" {
							w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="test"`)
							w.WriteHeader(http.StatusUnauthorized)
							return
						}
						h.ServeHTTP(w, r)
					case "/v1/search":
						http.NotFound(w, r)
					default:
						h.ServeHTTP(w, r)
					}
				})
			})
			opts := testOptions()
			opts.retry = &retryPolicy{attempts: 1}
			if tc.creds {
				opts.Keychain = keychain{&authn.Basic{Username: "me", Password: "secret"}}
			}
			_, err := Search(context.Background(), host+"/x", 25, opts)
			want := "searching " + host + ": " + strings.ReplaceAll(tc.want, "HOST", host)
			if err == nil || err.Error() != want {
				t.Errorf("Search = %v\nwant %s", err, want)
			}
			if !errors.Is(err, ErrUnauthorized) {
				t.Errorf("Search = %v, want ErrUnauthorized", err)
			}
		})
	}
}
