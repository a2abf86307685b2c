package main

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/strata-run/strata/cache"
)

// imageFilter is `images --filter KEY=VALUE` and `images [REPOSITORY[:TAG]]`, as docker reads
// them: values of one key are alternatives, different keys must all match.
type imageFilter struct {
	references []string // path.Match patterns over "name:tag" and "name"
	dangling   []bool
	// before and since hold the creation times of the images the filters named; until the
	// times until= gave.
	before, since, until []time.Time
	// labels are label= and label!= filters, all of which the image's config must pass.
	labels []labelCheck
}

// labelCheck is one label=KEY[=VALUE] or label!=KEY[=VALUE] filter, as docker's image list
// reads them: KEY alone asks whether the label is there (label!= that it is not), with a
// VALUE whether it is there with that value (label!= with another one).
type labelCheck struct {
	key, value string
	hasValue   bool
	negate     bool
}

// pass reports whether an image of labels passes the check, as docker's does: label!=KEY=VALUE
// wants the label there with another value.
func (c labelCheck) pass(labels map[string]string) bool {
	v, ok := labels[c.key]
	switch {
	case !c.hasValue:
		return ok != c.negate
	case !ok:
		return false
	}
	return (v == c.value) != c.negate
}

// parseLabelCheck reads the filter a, key k (label or label!) and value v, as KEY or
// KEY=VALUE.
func parseLabelCheck(a, k, v string) (labelCheck, error) {
	key, value, hasValue := strings.Cut(v, "=")
	if key == "" {
		return labelCheck{}, fmt.Errorf("invalid --filter %s: want %s=KEY or %s=KEY=VALUE", quoteValue(a), k, k)
	}
	return labelCheck{key: key, value: value, hasValue: hasValue, negate: k == "label!"}, nil
}

func parseImageFilter(store *cache.Store, args []string, rows []imageRow) (*imageFilter, error) {
	return parseImageFilterAt(store, args, rows, time.Now())
}

// parseImageFilterAt is parseImageFilter with until= durations taken back from now.
func parseImageFilterAt(store *cache.Store, args []string, rows []imageRow, now time.Time) (*imageFilter, error) {
	f := &imageFilter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --filter %s: want KEY=VALUE", quoteValue(a))
		}
		switch k {
		case "reference":
			if _, err := path.Match(v, ""); err != nil {
				return nil, fmt.Errorf("invalid --filter %s: %s", quoteValue(a), badPattern)
			}
			f.references = append(f.references, v)
		case "dangling":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("invalid --filter %s: want dangling=true or dangling=false", quoteValue(a))
			}
			// As docker: dangling=true and dangling=false together ask for nothing, and
			// are refused rather than answered with an empty list.
			if len(f.dangling) > 0 && f.dangling[0] != b {
				return nil, fmt.Errorf("invalid --filter %s: conflicts with dangling=%t", quoteValue(a), f.dangling[0])
			}
			f.dangling = append(f.dangling, b)
		case "label", "label!":
			c, err := parseLabelCheck(a, k, v)
			if err != nil {
				return nil, err
			}
			f.labels = append(f.labels, c)
		case "until":
			t, err := parseLogTime("--filter until", v, now)
			if err != nil {
				return nil, err
			}
			if t.IsZero() {
				return nil, fmt.Errorf("invalid --filter %s: want a time or a duration", quoteValue(a))
			}
			f.until = append(f.until, t)
		case "before", "since":
			created, err := imageCreated(store, v, rows)
			if err != nil {
				return nil, fmt.Errorf("invalid --filter %s: %w", quoteValue(a), err)
			}
			if k == "before" {
				f.before = append(f.before, created)
			} else {
				f.since = append(f.since, created)
			}
		default:
			return nil, fmt.Errorf("invalid --filter %s: unknown key %s (want reference, dangling, label, before, since or until)", quoteValue(a), quoteValue(k))
		}
	}
	return f, nil
}

// imageCreated is the creation time of the stored image name (a name or an image ID).
func imageCreated(store *cache.Store, name string, rows []imageRow) (time.Time, error) {
	r, err := findRef(store, name) // a dangling image too, by its ID
	if err != nil {
		return time.Time{}, err
	}
	for _, row := range rows {
		// A dangling image, found by its ID, has no name to tell it from another: its
		// manifest (or index) digest does.
		if row.ref == r.Name && (r.Name != "" || row.manifest == r.Descriptor.Digest.String()) {
			return row.CreatedAt, nil
		}
	}
	return time.Time{}, fmt.Errorf("image %s is not in the store", quoteArg(name))
}

func (f *imageFilter) match(r imageRow) bool {
	if len(f.references) > 0 && !anyMatch(f.references, r) {
		return false
	}
	// Dangling, as docker: neither repository nor tag. Only the images containers use
	// that lost their names are (imageRows).
	for _, d := range f.dangling {
		if d != r.dangling() {
			return false
		}
	}
	for _, t := range f.before {
		if !r.CreatedAt.Before(t) {
			return false
		}
	}
	for _, t := range f.since {
		if !r.CreatedAt.After(t) {
			return false
		}
	}
	// An image of no known creation time was not created before anything.
	for _, t := range f.until {
		if r.CreatedAt.IsZero() || !r.CreatedAt.Before(t) {
			return false
		}
	}
	for _, c := range f.labels {
		if !c.pass(r.labels) {
			return false
		}
	}
	return true
}

// anyMatch reports whether one of patterns matches the image's familiar name with its tag or,
// as docker's reference filter does, its name alone ("alpine" matches alpine:3.20).
func anyMatch(patterns []string, r imageRow) bool {
	if r.dangling() {
		return false // a dangling image has no reference to match
	}
	name := r.Repository
	tagged := name
	if r.Tag != "<none>" {
		tagged += ":" + r.Tag
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, tagged); ok {
			return true
		}
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// referenceArg turns `images REPOSITORY[:TAG]` into the reference filter docker makes of it.
// The argument is a pattern, not a reference: docker's CLI adds it as reference= unchecked,
// and its daemon matches it with reference.FamiliarMatch (path.Match on each image's familiar
// names), so `images ALPINE` or `images 'bad@@ref'` lists nothing and exits 0; only a
// pattern path.Match refuses is an error (the daemon's "syntax error in pattern").
func referenceArg(arg string) (string, error) {
	// Named as the argument it is: the user gave no --filter.
	if _, err := path.Match(arg, ""); err != nil {
		return "", fmt.Errorf("invalid image pattern %s: %s", quoteValue(arg), badPattern)
	}
	return "reference=" + arg, nil
}

// badPattern says what a reference pattern that path.Match refuses lacks.
const badPattern = "not a pattern (*, ? and [a-z] match, a [ needs its ])"

// dangling reports whether the row is a dangling image's, as docker says: neither repository
// nor tag.
func (r imageRow) dangling() bool { return r.Repository == "<none>" && r.Tag == "<none>" }
