package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/strata-run/strata/internal/jsonvalues"
)

// SearchResult is one repository a search found, as docker's registry search API returns it
// (moby api/types/registry.SearchResult).
type SearchResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int    `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
	IsAutomated bool   `json:"is_automated"`
}

// MaxSearchLimit is the most results a search may ask for, as docker's daemon bounds it.
const MaxSearchLimit = 100

// maxSearchBody bounds a search answer read: 100 results of long descriptions fit many times.
const maxSearchBody = 4 << 20

// maxSearchValues bounds the JSON values of a search answer: parsing costs some 80 times its
// bytes when they are small values ({} each), 320 MB for maxSearchBody of them, where 100
// results or a catalog page of maxCatalog names hold a few thousand.
const maxSearchValues = 1 << 14

// maxCatalog is the number of repositories a catalog search asks for in one page (n), the
// most docker's registry:2 gives by default (its catalog.maxentries).
const maxCatalog = 1000

// maxCatalogPages and maxCatalogBytes bound what a catalog search reads of a catalog that
// goes on: 100 pages of maxCatalog names, or 32 MiB of pages, some hundred thousand names
// and a few seconds' reading, where a hostile registry could answer forever.
const (
	maxCatalogPages = 100
	maxCatalogBytes = 32 << 20
)

// ErrSearchIncomplete is what Search returns, with the results it found, when it read only a
// part of a registry's catalog: past maxCatalogPages or maxCatalogBytes, or at a next page
// it cannot follow (a Link to another path, or to a page already read).
var ErrSearchIncomplete = errors.New("the rest of its catalog was not searched")

// SplitSearchTerm splits a docker search term into the registry it asks and what it asks
// for, as docker's daemon does (moby registry splitReposSearchTerm): the first component is
// a registry when it holds a "." or a ":" or is "localhost", else the term is Docker Hub's.
func SplitSearchTerm(term string) (host, query string) {
	first, rest, ok := strings.Cut(term, "/")
	if !ok || !strings.ContainsAny(first, ".:") && first != "localhost" {
		return dockerHub, term
	}
	return normalizeHost(first), rest
}

// Search asks a registry's search API (GET /v1/search?q=QUERY&n=LIMIT, Docker Hub's at
// index.docker.io) for term, as docker search does, with the credentials stored for the
// registry. A registry that has no search API (404, as docker's registry:2 and strata serve
// answer) is asked for its catalog instead (/v2/_catalog, as podman search does), and its
// repositories whose name holds the query are the results, named with the registry so that
// they pull as they are printed. The catalog is read page by page, as its Link headers say,
// until limit results are found; a catalog that goes on past maxCatalogPages or
// maxCatalogBytes, or whose next page cannot be followed, ends the search with the results
// found and an error that wraps ErrSearchIncomplete; so does a page after the first that
// fails (a 5xx, a connection reset, a page that is no catalog) once a result was found, as
// podman's search keeps what one registry found when another failed. With none found, that
// page's failure is the search's error. limit is 1 to MaxSearchLimit.
func Search(ctx context.Context, term string, limit int, opts Options) ([]SearchResult, error) {
	if limit < 1 || limit > MaxSearchLimit {
		return nil, fmt.Errorf("limit %d is outside the range of [1, %d]", limit, MaxSearchLimit)
	}
	if strings.Contains(term, "://") {
		return nil, fmt.Errorf("invalid repository name: repository name (%s) should not have a scheme", oneLine(term))
	}
	host, query := SplitSearchTerm(term)
	p, err := NewPuller(opts)
	if err != nil {
		return nil, err
	}
	apiHost := host
	if host == dockerHub {
		apiHost = dockerHubAPI
	}
	insecure := p.insecure(host)
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(apiHost, nopts...)
	if err != nil {
		return nil, fmt.Errorf("search: invalid registry %s: %w", oneLine(host), err)
	}
	base := p.secure
	if insecure {
		base = p.insecRT
	}
	base = relayRealms(guardHome(base, reg.RegistryStr()), reg.RegistryStr())
	rt := base
	anonymous := true
	if host != dockerHub {
		// Docker Hub's search is public and asked as it is, as docker asks it without a login;
		// another registry's with the credentials stored for it, through the token its /v2/
		// challenge names, for the scope docker's daemon asks (moby registry/search.go) and
		// the one a registry's catalog needs.
		auth, err := authn.Resolve(ctx, p.keychain, reg)
		if err != nil {
			return nil, fmt.Errorf("finding credentials for %s: %w", host, err)
		}
		anonymous = auth == authn.Anonymous
		if rt, err = transport.NewWithContext(ctx, reg, auth, base, []string{"registry:catalog:search", "registry:catalog:*"}); err != nil {
			return nil, searchError(ctx, err, host, anonymous)
		}
	}
	client := &http.Client{Transport: rt}
	prefix := reg.Scheme() + "://" + reg.RegistryStr()
	results, err := searchV1(ctx, client, prefix, query, limit)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		results, err = searchCatalog(ctx, client, prefix, host, query, limit)
	}
	if errors.Is(err, ErrSearchIncomplete) {
		return results, err
	}
	var pe *catalogPageError
	if errors.As(err, &pe) && ctx.Err() == nil {
		pe.err = searchError(ctx, pe.err, host, anonymous)
		if len(results) > 0 {
			return results, fmt.Errorf("%w: %w", pe, ErrSearchIncomplete)
		}
		return nil, pe
	}
	if err != nil {
		return nil, searchError(ctx, err, host, anonymous)
	}
	return results, nil
}

// catalogPageError is a catalog page after the first that failed (a 5xx, a connection reset,
// a page that is no catalog) with err; the pages before it were pages, listing names
// repositories.
type catalogPageError struct {
	host         string
	names, pages int
	err          error
}

func (e *catalogPageError) Error() string {
	return fmt.Sprintf("searching %s: read %d repositories of its catalog in %s, then page %d failed: %s",
		e.host, e.names, pages(e.pages), e.pages+1, strings.TrimPrefix(e.err.Error(), "searching "+e.host+": "))
}

func (e *catalogPageError) Unwrap() error { return e.err }

// searchError says what failed, in one line, as a pull's errors do. A refusal (401 or 403)
// says that the search was refused, and where (its search API, its catalog): a pull's words
// ("pull access denied for …: repository does not exist") named neither. docker's daemon
// says "Unexpected status code 401", and its CLI asks to "Login prior to search"; anonymous
// says whether strata sent credentials.
func searchError(ctx context.Context, err error, host string, anonymous bool) error {
	if ctx.Err() != nil {
		return fmt.Errorf("searching %s: interrupted: %w", host, context.Cause(ctx))
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &typ) || errors.Is(err, errSearchTooLarge) || errors.Is(err, errSearchTooMany) {
		return fmt.Errorf("searching %s: the registry's answer is not a search result: %w", host, err)
	}
	c := classify(err, opPull, "registry "+host, host, host)
	var e *Error
	var te *transport.Error
	if errors.As(c, &e) && e.Kind == ErrUnauthorized && errors.As(err, &te) {
		who := "the registry refused its search API"
		if realm, ok := tokenRealm(te); ok {
			who = realm + " refused a token for the search"
		} else if requestPath(te, "/v2/_catalog") {
			who = "the registry refused its catalog"
		}
		advice := "log in prior to search: `strata login " + host + "`"
		if !anonymous {
			advice = "the credentials stored for " + host + " do not allow it (`strata login " + host + "` to change them)"
		}
		return &Error{Kind: ErrUnauthorized, Registry: host, Err: e.Err, Msg: fmt.Sprintf(
			"searching %s: search access denied: %s (%s); %s", host, who, diagnostics(te), advice)}
	}
	return asOtherThanPull(c, "searching", host)
}

var (
	errSearchTooLarge = fmt.Errorf("answer larger than %d bytes", maxSearchBody)
	errSearchTooMany  = fmt.Errorf("answer of more than %d JSON values", maxSearchValues)
)

// getJSON GETs u and decodes its answer, at most maxSearchBody of it, into v; an answer
// other than 200 is a *transport.Error. It returns the answer's headers and its size.
func getJSON(ctx context.Context, client *http.Client, u string, v any) (http.Header, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, 0, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSearchBody+1))
	if err != nil {
		return nil, len(body), err
	}
	if len(body) > maxSearchBody {
		return nil, len(body), errSearchTooLarge
	}
	if n := jsonvalues.Count(body); n > maxSearchValues {
		return nil, len(body), fmt.Errorf("%w (%d bytes)", errSearchTooMany, len(body))
	}
	return resp.Header, len(body), json.Unmarshal(body, v)
}

// searchV1 asks the registry's search API.
func searchV1(ctx context.Context, client *http.Client, prefix, query string, limit int) ([]SearchResult, error) {
	var answer struct {
		Results []SearchResult `json:"results"`
	}
	u := prefix + "/v1/search?q=" + url.QueryEscape(query) + "&n=" + strconv.Itoa(limit)
	if _, _, err := getJSON(ctx, client, u, &answer); err != nil {
		return nil, err
	}
	if len(answer.Results) > limit {
		answer.Results = answer.Results[:limit]
	}
	return answer.Results, nil
}

// searchCatalog reads the registry's catalog, page by page, and keeps the repositories whose
// name holds query, named host/repository, until it has limit of them.
//
// Each next page is the one the answer's Link header names (distribution-spec's pagination:
// `</v2/_catalog?n=1000&last=app>; rel="next"`), but only its query is kept, asked of the
// registry's own /v2/_catalog: a Link to another host is never followed there (a registry
// behind a proxy may name its inner address; a hostile one, anyone's), as containers/image
// keeps only the path of the Links it follows. A Link to another path, or to a page already
// asked (a loop), and a catalog longer than maxCatalogPages or maxCatalogBytes end the search
// with what it found and ErrSearchIncomplete. A page after the first that fails ends it with
// what it found and a *catalogPageError.
func searchCatalog(ctx context.Context, client *http.Client, prefix, host, query string, limit int) ([]SearchResult, error) {
	var out []SearchResult
	found := map[string]bool{}
	asked := map[string]bool{}
	next := "n=" + strconv.Itoa(maxCatalog)
	names, read := 0, 0
	for page := 1; ; page++ {
		asked[next] = true
		var answer struct {
			Repositories []string `json:"repositories"`
		}
		u := prefix + "/v2/_catalog?" + next
		hdr, n, err := getJSON(ctx, client, u, &answer)
		if err != nil && page > 1 {
			// What the pages before found is kept: Search returns it, with the error.
			return out, &catalogPageError{host: host, names: names, pages: page - 1, err: err}
		}
		if err != nil {
			return nil, err
		}
		read += n
		names += len(answer.Repositories)
		for _, repo := range answer.Repositories {
			if !strings.Contains(repo, query) || found[repo] {
				continue
			}
			found[repo] = true
			out = append(out, SearchResult{Name: host + "/" + repo})
			if len(out) == limit {
				return out, nil
			}
		}
		q, ok, err := nextCatalogPage(hdr, u)
		incomplete := func(why string) error {
			return fmt.Errorf("searching %s: read %d repositories of its catalog in %s, then %s: %w", host, names, pages(page), why, ErrSearchIncomplete)
		}
		switch {
		case err != nil:
			return out, incomplete(oneLine(err.Error()))
		case !ok:
			return out, nil
		case asked[q]:
			return out, incomplete("its next page was one already read")
		case page >= maxCatalogPages:
			return out, incomplete(fmt.Sprintf("stopped: %d pages are the most strata reads", maxCatalogPages))
		case read >= maxCatalogBytes:
			return out, incomplete(fmt.Sprintf("stopped: %d MiB of pages are the most strata reads", maxCatalogBytes>>20))
		}
		next = q
	}
}

// pages is "1 page" or "n pages".
func pages(n int) string {
	if n == 1 {
		return "1 page"
	}
	return strconv.Itoa(n) + " pages"
}

// nextCatalogPage returns the query of the next page that the Link headers of the answer to
// the catalog page at asked name (RFC 8288: `<URL>; rel="next"`, among other links), or false
// when they name none. A next page that is not the catalog is an error.
func nextCatalogPage(h http.Header, asked string) (string, bool, error) {
	base, err := url.Parse(asked)
	if err != nil {
		return "", false, err
	}
	for _, v := range h.Values("Link") {
		for rest := strings.TrimSpace(v); rest != ""; {
			if rest[0] != '<' {
				return "", false, fmt.Errorf("its Link header %q is not `<URL>; rel=...`", v)
			}
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return "", false, fmt.Errorf("its Link header %q is not `<URL>; rel=...`", v)
			}
			target := rest[1:end]
			params, more, _ := strings.Cut(rest[end+1:], ",")
			rest = strings.TrimSpace(more)
			if !relNext(params) {
				continue
			}
			u, err := url.Parse(target)
			if err != nil {
				return "", false, fmt.Errorf("its next page %q is not a URL", target)
			}
			if u = base.ResolveReference(u); u.Path != "/v2/_catalog" {
				return "", false, fmt.Errorf("its next page %q is not its catalog", target)
			}
			return u.RawQuery, true, nil
		}
	}
	return "", false, nil
}

// relNext says whether a link's parameters (`; rel="next"`) hold the relation type next.
func relNext(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
			continue
		}
		for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}
