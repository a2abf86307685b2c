package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/registry"
)

// searchView is one search result as docker search's --format sees it: every field a string
// ("[OK]" or "" for IsOfficial in a template, "true" or "false" in its JSON), in the order of
// docker's JSON keys.
type searchView struct {
	Description string
	IsOfficial  string
	Name        string
	StarCount   string
}

func (searchView) headers() map[string]string {
	return map[string]string{"StarCount": "STARS", "IsOfficial": "OFFICIAL"}
}

// searchFilter is docker search's --filter: stars=N (the largest given), is-official= and
// is-automated=, as docker's daemon reads them.
type searchFilter struct {
	stars               int
	official, automated *bool
}

func parseSearchFilter(args []string) (searchFilter, error) {
	var f searchFilter
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return f, fmt.Errorf("bad format of filter (expected name=value): %s", quoteValue(a))
		}
		switch k {
		case "stars":
			n, err := strconv.Atoi(v)
			if err != nil {
				return f, fmt.Errorf("invalid filter %s", quoteValue(a))
			}
			f.stars = max(f.stars, n)
		case "is-official", "is-automated":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, fmt.Errorf("invalid filter %s", quoteValue(a))
			}
			if k == "is-official" {
				f.official = &b
			} else {
				f.automated = &b
			}
		default:
			return f, fmt.Errorf("invalid filter %s: want stars=N, is-official= or is-automated=", quoteValue(k))
		}
	}
	return f, nil
}

func (f searchFilter) keep(r registry.SearchResult) bool {
	return r.StarCount >= f.stars && (f.official == nil || *f.official == r.IsOfficial) &&
		(f.automated == nil || *f.automated == r.IsAutomated)
}

// searchTruncate is docker's width for a description unless --no-trunc.
const searchTruncate = 45

func newSearchCmd(g *globals) *cobra.Command {
	var (
		filters []string
		limit   int
		noTrunc bool
		format  string
	)
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search a registry for images (Docker Hub unless TERM starts with a registry: 127.0.0.1:5000/app)",
		Long: `Search a registry for images, as docker search does: its search API (Docker Hub's by
default), or, for a registry without one (docker's registry:2, strata serve), its catalog's
repositories whose name holds the term, printed with the registry so that they pull as shown.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseSearchFilter(filters)
			if err != nil {
				return err
			}
			offline, err := offlineEnv()
			if err != nil {
				return err
			}
			if offline {
				return errors.New("search: STRATA_OFFLINE forbids the network")
			}
			results, err := registry.Search(cmd.Context(), args[0], limit, g.registryOptions())
			if errors.Is(err, registry.ErrSearchIncomplete) {
				// A catalog strata read only part of (too long, a next page it does not
				// follow, or a later page that failed once a match was found): what it found
				// is printed, and that the rest was not searched said, and the exit status is
				// 0, as podman's search keeps what one registry found when another failed.
				fmt.Fprintln(cmd.ErrOrStderr(), oneLine("strata: warning: "+err.Error()))
			} else if err != nil {
				return err
			}
			// docker's CLI sorts by stars, most first.
			slices.SortStableFunc(results, func(a, b registry.SearchResult) int { return cmp.Compare(b.StarCount, a.StarCount) })
			json := strings.Contains(format, "json")
			var views []searchView
			for _, r := range results {
				if !f.keep(r) {
					continue
				}
				desc := strings.NewReplacer("\n", " ", "\r", " ").Replace(r.Description)
				if !noTrunc && utf8.RuneCountInString(desc) > searchTruncate {
					desc = string([]rune(desc)[:searchTruncate-1]) + "…"
				}
				official := map[bool]string{true: "[OK]"}[r.IsOfficial]
				if json {
					official = strconv.FormatBool(r.IsOfficial)
				}
				views = append(views, searchView{Name: escapeUnprintable(r.Name), Description: escapeUnprintable(desc),
					StarCount: strconv.Itoa(r.StarCount), IsOfficial: official})
			}
			switch {
			case tableDefault(format):
				format = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
			case strings.TrimSpace(format) == "json":
				format = "{{json .}}"
			}
			return writeTemplate(cmd.OutOrStdout(), format, views)
		},
	}
	fl := cmd.Flags()
	stringArrayVar(fl, &filters, "filter", "f", nil, "stars=N, is-official=true|false, is-automated=true|false (repeatable)")
	fl.IntVar(&limit, "limit", 25, "max number of search results (1 to 100)")
	fl.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	fl.StringVar(&format, "format", "", "a Go template over docker's fields ('{{.Name}} {{.StarCount}}'), table, or json")
	return cmd
}
