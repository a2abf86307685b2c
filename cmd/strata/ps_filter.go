package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/runner"
)

// psFilter is `ps --filter KEY=VALUE`, as docker reads it: values of one key are alternatives,
// different keys must all match. Scripts lean on it (`ps -aq -f status=exited`).
type psFilter struct {
	ids, statuses []string
	names         []*regexp.Regexp
	exited        []int
	// ancestors are images as the filter named them: names or image ID prefixes;
	// resolveAncestors finds the IDs the names have now.
	ancestors   []string
	ancestorIDs map[string]bool
	// labels are label= filters, "key" or "key=value"; each must match, as docker's.
	labels []string
	// none is set by a filter no strata container can match: publish= and expose= (no
	// published ports), is-task=true (no swarm).
	none bool
	// health are health= values: a container's health status, or none without one.
	health []string
	// before and since name containers; resolve turns them into creation times.
	before, since     []string
	beforeT, sinceT   []time.Time
	networks, volumes []string
}

// dockerStatuses are the values docker's status filter accepts; strata's containers are only
// ever created, running, paused, exited or dead, so the others match nothing.
var dockerStatuses = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

func parsePsFilter(args []string) (*psFilter, error) {
	f := &psFilter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --filter %s: want KEY=VALUE", quoteValue(a))
		}
		switch k {
		case "id":
			f.ids = append(f.ids, v)
		case "name":
			// Docker matches names as a regular expression, so "web" finds "web-1".
			re, err := regexp.Compile(v)
			if err != nil {
				return nil, fmt.Errorf("invalid --filter %s: %w", quoteValue(a), quote.Regexp(err))
			}
			f.names = append(f.names, re)
		case "status":
			if !slices.Contains(dockerStatuses, v) {
				return nil, fmt.Errorf("invalid --filter %s: want status=%s", quoteValue(a), strings.Join(dockerStatuses, "|"))
			}
			f.statuses = append(f.statuses, v)
		case "exited":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("invalid --filter %s: want an exit code", quoteValue(a))
			}
			f.exited = append(f.exited, n)
		case "ancestor":
			if v == "" {
				return nil, fmt.Errorf("invalid --filter %s: want an image name or ID", quoteValue(a))
			}
			f.ancestors = append(f.ancestors, v)
		case "label":
			f.labels = append(f.labels, v)
		case "publish", "expose":
			if !validPortFilter(v) {
				// docker's daemon refuses what its portOp cannot read: "8080:80", "http".
				return nil, fmt.Errorf("invalid --filter %s: want a port or a range of ports, with a protocol or not (80, 8000-8080/tcp)", quoteValue(a))
			}
			f.none = true
		case "health":
			switch v {
			case runner.HealthNone, runner.HealthStarting, runner.HealthHealthy, runner.HealthUnhealthy:
				f.health = append(f.health, v)
			default:
				return nil, fmt.Errorf("invalid --filter %s: want starting, healthy, unhealthy or none", quoteValue(a))
			}
		case "is-task":
			// true or false alone, as docker's daemon (ExactMatch): it took "1", "t" and "TRUE".
			if v != "true" && v != "false" {
				return nil, fmt.Errorf("invalid --filter %s: want true or false", quoteValue(a))
			}
			f.none = f.none || v == "true"
		case "isolation":
			// Windows' alone: docker's daemon on Linux takes the key, any value, and
			// filters nothing by it (excludeByIsolation). It was refused as unknown.
		case "before", "since", "network", "volume":
			if v == "" {
				return nil, fmt.Errorf("invalid --filter %s: want a value", quoteValue(a))
			}
			switch k {
			case "before":
				f.before = append(f.before, v)
			case "since":
				f.since = append(f.since, v)
			case "network":
				f.networks = append(f.networks, v)
			default:
				f.volumes = append(f.volumes, v)
			}
		default:
			return nil, fmt.Errorf("invalid --filter %s: unknown key %s (want id, name, status, exited, ancestor, label, before, since, network, volume, health, publish, expose, is-task or isolation)", quoteValue(a), quoteValue(k))
		}
	}
	return f, nil
}

// validPortFilter says whether v is a publish= or expose= value docker's daemon reads (its
// portOp): a port or a range of them, "80", "8000-8080", with a protocol or not ("80/udp").
func validPortFilter(v string) bool {
	port, _, _ := strings.Cut(v, "/")
	lo, hi, isRange := strings.Cut(port, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return false
	}
	if !isRange {
		return true
	}
	end, err := strconv.ParseUint(hi, 10, 16)
	return err == nil && end >= start
}

// impliesAll reports whether the filter asks for stopped containers by itself: as in docker,
// a status filter needs no -a. An exited filter does (docker's daemon sets All for status=
// alone, and its reference writes `ps -a --filter exited=0`): without -a it matches nothing,
// as docker's; it listed the stopped containers.
func (f *psFilter) impliesAll() bool { return len(f.statuses) > 0 }

// resolve finds the containers before= and since= name, as docker: one that is not there is
// an error.
func (f *psFilter) resolve(store *runner.Store) error {
	for _, list := range []struct {
		names []string
		times *[]time.Time
	}{{f.before, &f.beforeT}, {f.since, &f.sinceT}} {
		for _, n := range list.names {
			c, err := findContainer(store, n)
			if err != nil {
				return err
			}
			*list.times = append(*list.times, c.Config.Created)
		}
	}
	return nil
}

// resolveAncestors finds the image each ancestor= name stands for now, as docker's filter
// does: a container matches by the ID of the image it was made from, so one made from
// alpine before alpine was pulled anew is not alpine's any more. A name the store does not
// have matches no container.
func (f *psFilter) resolveAncestors(g *globals) {
	if len(f.ancestors) == 0 {
		return
	}
	f.ancestorIDs = map[string]bool{}
	store, err := g.openStore()
	if err != nil {
		return
	}
	for _, a := range f.ancestors {
		if _, id, _, err := findLocalImage(store, a, registry.DefaultPlatform(), false); err == nil {
			f.ancestorIDs[id.String()] = true
		}
	}
}

func (f *psFilter) match(r psRow) bool {
	if f.none {
		return false
	}
	for _, t := range f.beforeT {
		if !r.CreatedAt.Before(t) {
			return false
		}
	}
	for _, t := range f.sinceT {
		if !r.CreatedAt.After(t) {
			return false
		}
	}
	if len(f.networks) > 0 && !slices.Contains(f.networks, r.Networks) {
		return false
	}
	// volume= is a volume's name or source, or where a mount goes in the container.
	if len(f.volumes) > 0 && !slices.ContainsFunc(f.volumes, func(v string) bool {
		return slices.Contains(r.mounts, v) || slices.Contains(r.targets, v)
	}) {
		return false
	}
	for _, l := range f.labels {
		if !hasLabel(r.labels, l) {
			return false
		}
	}
	if len(f.ids) > 0 && !slices.ContainsFunc(f.ids, func(id string) bool { return strings.HasPrefix(r.ID, id) }) {
		return false
	}
	if len(f.names) > 0 && !slices.ContainsFunc(f.names, func(re *regexp.Regexp) bool { return re.MatchString(r.Names) || re.MatchString("/"+r.Names) }) {
		return false
	}
	if len(f.health) > 0 {
		h := r.health
		if h == "" {
			h = runner.HealthNone
		}
		if !slices.Contains(f.health, h) {
			return false
		}
	}
	if len(f.statuses) > 0 && !slices.Contains(f.statuses, r.State) {
		return false
	}
	if len(f.exited) > 0 && (r.State != "exited" || !slices.Contains(f.exited, r.ExitCode)) {
		return false
	}
	if len(f.ancestors) > 0 && !f.ancestorIDs[r.imageID] && !slices.ContainsFunc(f.ancestors, r.fromID) {
		return false
	}
	return true
}

// fromID reports whether the container was made from the image whose ID starts with prefix
// ("0457", "sha256:0457").
func (r psRow) fromID(prefix string) bool {
	id, prefix := strings.TrimPrefix(r.imageID, "sha256:"), strings.TrimPrefix(prefix, "sha256:")
	return id != "" && isHexString(prefix) && strings.HasPrefix(id, prefix)
}

func isHexString(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return s != ""
}

// hasLabel reports whether labels match the label filter l: "key" has the key, with any
// value; "key=value" has it with that value.
func hasLabel(labels map[string]string, l string) bool {
	k, want, withValue := strings.Cut(l, "=")
	v, ok := labels[k]
	return ok && (!withValue || v == want)
}
