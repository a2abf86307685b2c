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

// maxCatalog bounds the repositories a catalog search asks for, in one page.
const maxCatalog = 1000

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
// they pull as they are printed. limit is 1 to MaxSearchLimit.
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
	if host != dockerHub {
		// Docker Hub's search is public and asked as it is, as docker asks it without a login;
		// another registry's with the credentials stored for it, through the token its /v2/
		// challenge names, for the scope docker's daemon asks (moby registry/search.go) and
		// the one a registry's catalog needs.
		auth, err := authn.Resolve(ctx, p.keychain, reg)
		if err != nil {
			return nil, fmt.Errorf("finding credentials for %s: %w", host, err)
		}
		if rt, err = transport.NewWithContext(ctx, reg, auth, base, []string{"registry:catalog:search", "registry:catalog:*"}); err != nil {
			return nil, searchError(ctx, err, host)
		}
	}
	client := &http.Client{Transport: rt}
	prefix := reg.Scheme() + "://" + reg.RegistryStr()
	results, err := searchV1(ctx, client, prefix, query, limit)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		results, err = searchCatalog(ctx, client, prefix, host, query, limit)
	}
	if err != nil {
		return nil, searchError(ctx, err, host)
	}
	return results, nil
}

// searchError says what failed, in one line, as a pull's errors do.
func searchError(ctx context.Context, err error, host string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("searching %s: interrupted: %w", host, context.Cause(ctx))
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &typ) || errors.Is(err, errSearchTooLarge) || errors.Is(err, errSearchTooMany) {
		return fmt.Errorf("searching %s: the registry's answer is not a search result: %w", host, err)
	}
	return asOtherThanPull(classify(err, opPull, "registry "+host, host, host), "searching", host)
}

var (
	errSearchTooLarge = fmt.Errorf("answer larger than %d bytes", maxSearchBody)
	errSearchTooMany  = fmt.Errorf("answer of more than %d JSON values", maxSearchValues)
)

// getJSON GETs u and decodes its answer, at most maxSearchBody of it, into v; an answer
// other than 200 is a *transport.Error.
func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSearchBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxSearchBody {
		return errSearchTooLarge
	}
	if n := jsonvalues.Count(body); n > maxSearchValues {
		return fmt.Errorf("%w (%d bytes)", errSearchTooMany, len(body))
	}
	return json.Unmarshal(body, v)
}

// searchV1 asks the registry's search API.
func searchV1(ctx context.Context, client *http.Client, prefix, query string, limit int) ([]SearchResult, error) {
	var answer struct {
		Results []SearchResult `json:"results"`
	}
	u := prefix + "/v1/search?q=" + url.QueryEscape(query) + "&n=" + strconv.Itoa(limit)
	if err := getJSON(ctx, client, u, &answer); err != nil {
		return nil, err
	}
	if len(answer.Results) > limit {
		answer.Results = answer.Results[:limit]
	}
	return answer.Results, nil
}

// searchCatalog lists the registry's repositories (one page of up to maxCatalog) and keeps
// those whose name holds query, named host/repository.
func searchCatalog(ctx context.Context, client *http.Client, prefix, host, query string, limit int) ([]SearchResult, error) {
	var answer struct {
		Repositories []string `json:"repositories"`
	}
	if err := getJSON(ctx, client, prefix+"/v2/_catalog?n="+strconv.Itoa(maxCatalog), &answer); err != nil {
		return nil, err
	}
	var out []SearchResult
	for _, repo := range answer.Repositories {
		if !strings.Contains(repo, query) {
			continue
		}
		out = append(out, SearchResult{Name: host + "/" + repo})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}
