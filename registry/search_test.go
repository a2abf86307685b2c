package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"
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
