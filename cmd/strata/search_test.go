package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSearch: `search` is docker search: a registry's /v1/search results, sorted by stars,
// in docker's table (NAME, DESCRIPTION cut to 45 characters, STARS, OFFICIAL as [OK]), its
// --filter, --limit, --no-trunc and --format (json as docker's: every value a string); a
// typo'd filter or a limit out of [1, 100] fails in one line. strata had no search command:
// "unknown command".
func TestSearch(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			io.WriteString(w, "{}")
			return
		}
		asked = append(asked, r.URL.String())
		io.WriteString(w, `{"results":[
			{"name":"me/alps","description":"Alps\nwith a description that is longer than forty-five characters","star_count":2,"is_automated":true},
			{"name":"alpine","description":"A minimal image","star_count":10,"is_official":true},
			{"name":"me/evil\u001b[2J","star_count":1}]}`)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	root := t.TempDir()

	out, err := strata(t, root, nil, "search", host+"/alp")
	want := "NAME             DESCRIPTION                                     STARS     OFFICIAL\n" +
		"alpine           A minimal image                                 10        [OK]\n" +
		"me/alps          Alps with a description that is longer than …   2         \n" +
		`me/evil\x1b[2J   ` + "                                                1         \n"
	if err != nil || out != want {
		t.Errorf("search %s/alp =\n%s, %v; want\n%s", host, out, err, want)
	}
	if len(asked) != 1 || asked[0] != "/v1/search?q=alp&n=25" {
		t.Errorf("search asked %q, want /v1/search?q=alp&n=25", asked)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "{{.Name}}", "-f", "stars=2"}, "alpine\nme/alps\n"},
		{[]string{"--format", "{{.Name}}", "--filter", "is-official=true"}, "alpine\n"},
		{[]string{"--format", "{{.Name}}", "--filter", "is-automated=true", "--filter", "stars=1"}, "me/alps\n"},
		{[]string{"--format", "{{.Description}}", "--no-trunc", "-f", "is-automated=true"}, "Alps with a description that is longer than forty-five characters\n"},
		{[]string{"--format", "json", "-f", "is-official=true"}, `{"Description":"A minimal image","IsOfficial":"true","Name":"alpine","StarCount":"10"}` + "\n"},
		{[]string{"--format", "table {{.Name}}\t{{.StarCount}}", "-f", "is-official=true"}, "NAME      STARS\nalpine    10\n"},
	} {
		out, err := strata(t, root, nil, append(append([]string{"search"}, tc.args...), host+"/alp")...)
		if err != nil || out != tc.want {
			t.Errorf("search %q = %q, %v; want %q", tc.args, out, err, tc.want)
		}
	}
	if _, err := strata(t, root, nil, "search", "--limit", "3", host+"/x"); err != nil || asked[len(asked)-1] != "/v1/search?q=x&n=3" {
		t.Errorf("search --limit 3 asked %q, %v", asked[len(asked)-1], err)
	}
	for _, args := range [][]string{{"--limit", "0"}, {"--limit", "101"}, {"-f", "stars=x"}, {"-f", "is-official=maybe"}, {"-f", "bogus=1"}, {"-f", "stars"}} {
		n := len(asked)
		_, err := strata(t, root, nil, append(append([]string{"search"}, args...), host+"/alp")...)
		if err == nil || strings.Contains(err.Error(), "\n") || len(asked) != n {
			t.Errorf("search %q = %v; want a one-line error and no request", args, err)
		}
	}
	t.Setenv("STRATA_OFFLINE", "1")
	if _, err := strata(t, root, nil, "search", host+"/alp"); err == nil || !strings.Contains(err.Error(), "STRATA_OFFLINE") {
		t.Errorf("search with STRATA_OFFLINE=1 = %v, want it refused", err)
	}
}

// TestSearchSortHugeStars: a registry's star counts near the ends of int sort as numbers, most
// first: the comparison subtracted them, the difference wrapped, and the sort, its order no
// longer consistent, put 9223372036854775806 after 1.
func TestSearchSortHugeStars(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			io.WriteString(w, "{}")
			return
		}
		io.WriteString(w, `{"results":[{"name":"max","star_count":9223372036854775807},{"name":"one","star_count":1},
			{"name":"min","star_count":-9223372036854775808},{"name":"five","star_count":5},
			{"name":"neg","star_count":-3},{"name":"max-1","star_count":9223372036854775806}]}`)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	out, err := strata(t, t.TempDir(), nil, "search", "--format", "{{.Name}}", host+"/x")
	if want := "max\nmax-1\nfive\none\n"; err != nil || out != want {
		t.Errorf("search = %q, %v; want %q", out, err, want)
	}
}

// TestSearchCatalogIncomplete: a registry without a search API whose catalog's next page
// cannot be followed (here, one that names itself again) prints the results found, with a
// warning that the rest of its catalog was not searched, and exits 0.
func TestSearchCatalogIncomplete(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			io.WriteString(w, "{}")
		case "/v2/_catalog":
			w.Header().Set("Link", `</v2/_catalog?n=1000&last=a>; rel="next"`)
			io.WriteString(w, `{"repositories":["team/alpine","team/busybox"]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cmd := newRootCmd(&globals{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--root", t.TempDir(), "search", "--format", "{{.Name}}", host + "/alp"})
	err := cmd.ExecuteContext(context.Background())
	if err != nil || out.String() != host+"/team/alpine\n" {
		t.Errorf("search %s/alp = %q, %v; want %s/team/alpine", host, out.String(), err, host)
	}
	if want := "strata: warning: searching " + host + ": read 4 repositories of its catalog in 2 pages, then its next page was one already read: the rest of its catalog was not searched\n"; errOut.String() != want {
		t.Errorf("search's stderr = %q, want %q", errOut.String(), want)
	}
}

// TestSearchCatalogPageFails: a registry whose catalog's second page fails (a 501, which is
// not retried) prints the results of its first page, with a one-line warning naming the
// failure, and exits 0, as an incomplete catalog does; it printed only the error and exited
// 1. With no result on the first page, the failure is the error.
func TestSearchCatalogPageFails(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			io.WriteString(w, "{}")
		case r.URL.Path == "/v2/_catalog" && r.URL.Query().Get("last") == "":
			w.Header().Set("Link", `</v2/_catalog?n=1000&last=team%2Fbusybox>; rel="next"`)
			io.WriteString(w, `{"repositories":["team/alpine","team/busybox"]}`)
		case r.URL.Path == "/v2/_catalog":
			http.Error(w, "not now", http.StatusNotImplemented)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	search := func(term string) (string, string, error) {
		cmd := newRootCmd(&globals{})
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs([]string{"--root", t.TempDir(), "search", "--format", "{{.Name}}", term})
		err := cmd.ExecuteContext(context.Background())
		return out.String(), errOut.String(), err
	}
	out, errOut, err := search(host + "/alp")
	if err != nil || out != host+"/team/alpine\n" {
		t.Errorf("search %s/alp = %q, %v; want %s/team/alpine", host, out, err, host)
	}
	if want := "strata: warning: searching " + host + ": read 2 repositories of its catalog in 1 page, then page 2 failed: registry " + host + ": HTTP 501 Not Implemented: the rest of its catalog was not searched\n"; errOut != want {
		t.Errorf("search's stderr = %q, want %q", errOut, want)
	}
	out, _, err = search(host + "/nginx")
	if want := "searching " + host + ": read 2 repositories of its catalog in 1 page, then page 2 failed: registry " + host + ": HTTP 501 Not Implemented"; err == nil || err.Error() != want || out != "" {
		t.Errorf("search %s/nginx = %q, %v; want the error %q", host, out, err, want)
	}
}
