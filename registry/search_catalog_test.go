package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// catalogServer is a registry (go-containerregistry's, for /v2/) whose /v2/_catalog is page:
// given the request, it writes the answer. It returns the host and the catalog queries asked.
func catalogServer(t *testing.T, page func(w http.ResponseWriter, r *http.Request)) (string, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var asked []string
	host := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/v1/search":
				http.NotFound(w, r)
			case "/v2/_catalog":
				mu.Lock()
				asked = append(asked, r.URL.RawQuery)
				mu.Unlock()
				page(w, r)
			default:
				h.ServeHTTP(w, r)
			}
		})
	})
	return host, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(asked)
	}
}

// distributionCatalog pages names (sorted) as docker's registry:2 does: at most max of them
// after last, n capped at max, and a relative Link to the next page while there are more.
func distributionCatalog(names []string, max int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n, err := strconv.Atoi(q.Get("n"))
		if err != nil || n <= 0 || n > max {
			n = max
		}
		i, _ := slices.BinarySearch(names, q.Get("last"))
		if last := q.Get("last"); last != "" && i < len(names) && names[i] == last {
			i++
		}
		end := min(i+n, len(names))
		if end < len(names) {
			next := url.Values{"n": {strconv.Itoa(n)}, "last": {names[end-1]}}
			w.Header().Set("Link", `</v2/_catalog?`+next.Encode()+`>; rel="next"`)
		}
		fmt.Fprintf(w, `{"repositories":[%s]}`, quoteAll(names[i:end]))
	}
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ",")
}

// TestSearchCatalogPages: a catalog search follows the catalog's pages (the Link header's
// next, with the spec's n and last), so a repository past the first page is found: strata read
// the first 1000 names only, and a registry:2 with more repositories hid the rest. Once limit
// results are found, no further page is asked.
func TestSearchCatalogPages(t *testing.T) {
	var names []string
	for i := range 2500 {
		names = append(names, fmt.Sprintf("team/app-%04d", i))
	}
	names = append(names, "team/zz-alpine")
	host, asked := catalogServer(t, distributionCatalog(names, 500))
	got, err := Search(context.Background(), host+"/alpine", 25, testOptions())
	if err != nil || len(got) != 1 || got[0].Name != host+"/team/zz-alpine" {
		t.Errorf("Search(%s/alpine) = %+v, %v; want team/zz-alpine, on the catalog's last page", host, got, err)
	}
	if a := asked(); len(a) != 6 || a[0] != "n=1000" || a[1] != "last=team%2Fapp-0499&n=500" {
		t.Errorf("the catalog was asked %q, want 6 pages, the first with n=1000 and each next as its Link says", a)
	}

	host, asked = catalogServer(t, distributionCatalog(names, 500))
	got, err = Search(context.Background(), host+"/app-", 3, testOptions())
	if err != nil || len(got) != 3 {
		t.Errorf("Search(%s/app-, 3) = %+v, %v; want 3 results", host, got, err)
	}
	if a := asked(); len(a) != 1 {
		t.Errorf("with the limit reached on the first page, the catalog was asked %q", a)
	}
}

// TestSearchCatalogHostile: a registry's Link is followed only to its own catalog, and not
// forever: a Link to another host is asked of the registry itself (the other host never
// is), one to another path or that repeats a page already read ends the search, as do
// maxCatalogPages pages; each of those ends with the results found and ErrSearchIncomplete,
// which says the rest was not searched.
func TestSearchCatalogHostile(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other host was asked %s", r.URL)
	}))
	defer other.Close()
	for _, tc := range []struct {
		name       string
		link       func(page int) string
		wantPages  int
		incomplete bool
	}{
		{"other host", func(page int) string {
			if page == 1 {
				return "<" + other.URL + `/v2/_catalog?last=x&n=1000>; rel="next"`
			}
			return ""
		}, 2, false},
		{"loop", func(int) string { return `</v2/_catalog?last=a&n=1000>; rel="next"` }, 2, true},
		{"loop back", func(page int) string {
			return `</v2/_catalog?last=` + strconv.Itoa(page%3) + `>; rel="next"`
		}, 4, true},
		{"endless", func(page int) string { return `</v2/_catalog?last=` + strconv.Itoa(page) + `>; rel="next"` }, maxCatalogPages, true},
		{"another path", func(int) string { return `</v2/x/tags/list?n=1>; rel="next"` }, 1, true},
		{"no URL", func(int) string { return `rel="next"` }, 1, true},
		{"prev only", func(int) string { return `</v2/_catalog?last=z>; rel="prev"` }, 1, false},
		{"next among others", func(page int) string {
			if page == 1 {
				return `</v2/_catalog?last=0>; rel="prev", </v2/_catalog?last=b>; rel="next"`
			}
			return ""
		}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			page := 0
			host, asked := catalogServer(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				page++
				p := page
				mu.Unlock()
				if l := tc.link(p); l != "" {
					w.Header().Set("Link", l)
				}
				fmt.Fprintf(w, `{"repositories":["a/alpine","b/page-%d"]}`, p)
			})
			got, err := Search(context.Background(), host+"/alpine", 25, testOptions())
			if tc.incomplete != errors.Is(err, ErrSearchIncomplete) || err != nil && !tc.incomplete {
				t.Errorf("Search = %v, want ErrSearchIncomplete: %v", err, tc.incomplete)
			}
			if err != nil && (strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "searching "+host+": ")) {
				t.Errorf("Search's error %q is not one line about searching %s", err, host)
			}
			if len(got) != 1 || got[0].Name != host+"/a/alpine" {
				t.Errorf("Search = %+v, want a/alpine once", got)
			}
			if a := asked(); len(a) != tc.wantPages {
				t.Errorf("the catalog was asked %d pages (%q), want %d", len(a), a[:min(len(a), 5)], tc.wantPages)
			}
		})
	}
}

// TestSearchCatalogBytes: the pages a catalog search reads are bounded in bytes too, not only
// in number: pages of 1 MiB of names that match nothing end the search past maxCatalogBytes.
func TestSearchCatalogBytes(t *testing.T) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = strings.Repeat("x", 1000) + strconv.Itoa(i)
	}
	body := `{"repositories":[` + quoteAll(names) + `]}`
	var mu sync.Mutex
	page := 0
	host, asked := catalogServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		page++
		w.Header().Set("Link", `</v2/_catalog?last=`+strconv.Itoa(page)+`>; rel="next"`)
		mu.Unlock()
		w.Write([]byte(body))
	})
	_, err := Search(context.Background(), host+"/alpine", 25, testOptions())
	if !errors.Is(err, ErrSearchIncomplete) {
		t.Errorf("Search = %v, want ErrSearchIncomplete", err)
	}
	if n := len(asked()); n > maxCatalogBytes/len(body)+1 {
		t.Errorf("the catalog was asked %d pages of %d bytes, past %d bytes", n, len(body), maxCatalogBytes)
	}
}

// TestSearchCatalogPageFails: a catalog page after the first that fails (a 5xx, a connection
// reset, a page that is no JSON) ends the search with the results of the pages read before
// and an ErrSearchIncomplete that says what failed, in one line: they were dropped, and only
// the error was left. With no result found before it, and when the first page fails, the
// search fails.
func TestSearchCatalogPageFails(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failPage int
		match    bool // the pages before the failing one hold a match
		fail     func(w http.ResponseWriter)
		want     string
	}{
		{"5xx", 2, true, func(w http.ResponseWriter) { http.Error(w, "upstream down", http.StatusServiceUnavailable) }, "503"},
		{"reset", 2, true, func(w http.ResponseWriter) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.(*net.TCPConn).SetLinger(0) // close with a RST
			conn.Close()
		}, "closed the connection"},
		{"malformed", 3, true, func(w http.ResponseWriter) { io.WriteString(w, `{"repositories":["x/alpine-`) }, "not a search result"},
		{"no match before", 2, false, func(w http.ResponseWriter) { http.Error(w, "upstream down", http.StatusServiceUnavailable) }, "503"},
		{"first page", 1, true, func(w http.ResponseWriter) { http.Error(w, "upstream down", http.StatusServiceUnavailable) }, "503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			page := 0
			host, _ := catalogServer(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				page++
				p := page
				mu.Unlock()
				if p >= tc.failPage {
					tc.fail(w)
					return
				}
				w.Header().Set("Link", `</v2/_catalog?last=`+strconv.Itoa(p)+`>; rel="next"`)
				if tc.match && p == 1 {
					fmt.Fprintf(w, `{"repositories":["a/alpine","b/page-%d"]}`, p)
				} else {
					fmt.Fprintf(w, `{"repositories":["b/page-%d"]}`, p)
				}
			})
			got, err := Search(context.Background(), host+"/alpine", 25, testOptions())
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "searching "+host+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Search's error %v is not one line about searching %s that says %q", err, host, tc.want)
			}
			partial := tc.match && tc.failPage > 1
			if partial != errors.Is(err, ErrSearchIncomplete) {
				t.Errorf("Search = %v; want ErrSearchIncomplete: %v", err, partial)
			}
			if partial && (len(got) != 1 || got[0].Name != host+"/a/alpine") {
				t.Errorf("Search = %+v, want a/alpine, found before page %d failed", got, tc.failPage)
			}
			if !partial && got != nil {
				t.Errorf("Search = %+v with an error, want no results", got)
			}
			if partial && !strings.Contains(err.Error(), fmt.Sprintf("then page %d failed", tc.failPage)) {
				t.Errorf("Search's error %q does not name page %d", err, tc.failPage)
			}
		})
	}
}
