package runner

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/strata-run/strata/internal/quote"
)

// maxLabelBytes bounds what a container's labels take in its config.json, as JSON (the
// image's with --label's and --label-file's): every ps and inspect reads that file, whole, for
// every container, and one over maxJSONSize would leave the container unreadable. Docker sets
// no bound; a label file of /dev/zero, or an image whose labels are megabytes, would be copied
// into every container made from it.
const maxLabelBytes = 1 << 20

// ValidateLabel checks one --label value as docker's CLI does (opts.ValidateLabel): "key=value"
// or "key" (an empty value), the key neither empty nor holding whitespace. strata also refuses
// invalid UTF-8, which config.json's JSON would store as U+FFFD, another label than asked for,
// and NUL bytes, which no tool reading labels expects (ps printed them raw).
func ValidateLabel(v string) error {
	k, _, _ := strings.Cut(v, "=")
	switch {
	case strings.TrimSpace(k) == "":
		return fmt.Errorf("invalid label %s: empty name", quote.Value(v))
	case strings.ContainsFunc(k, unicode.IsSpace):
		return fmt.Errorf("label %s contains whitespaces", quote.Value(k))
	case !utf8.ValidString(v):
		return fmt.Errorf("invalid label %s: invalid UTF-8", quote.Value(v))
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("invalid label %s: contains a NUL byte", quote.Value(k))
	}
	return nil
}

// MergeLabels is a container's labels as docker makes them: the lines of the --label-file
// files, then the --label flags, later ones winning by key, over the image's labels. Label
// files read as docker's (parseKeyValueFile): a byte-order mark opening the file and
// whitespace opening a line are skipped, blank lines and lines starting with '#' ignored,
// and a line without '=' is a label with an empty value. The result is nil without labels.
func MergeLabels(image map[string]string, flags, files []string) (map[string]string, error) {
	var out map[string]string
	size := 0
	set := func(kv string) error {
		if err := ValidateLabel(kv); err != nil {
			return err
		}
		k, v, _ := strings.Cut(kv, "=")
		if out == nil {
			out = map[string]string{}
		}
		if old, ok := out[k]; ok {
			size -= len(k) + len(old)
		}
		out[k] = v
		if size += len(k) + len(v); size > maxLabelBytes {
			return fmt.Errorf("the labels take over %d bytes", maxLabelBytes)
		}
		return nil
	}
	for _, f := range files {
		if err := readKVFile("label", f, maxLabelBytes, maxLabelBytes, set); err != nil {
			return nil, err
		}
	}
	for _, v := range flags {
		if err := set(v); err != nil {
			return nil, err
		}
	}
	if n := jsonSize(image); n > maxLabelBytes {
		return nil, fmt.Errorf("the image's labels take %d bytes, over the %d strata copies into a container", n, maxLabelBytes)
	}
	for k, v := range image {
		if _, ok := out[k]; !ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	if n := jsonSize(out); n > maxLabelBytes {
		return nil, fmt.Errorf("the labels take %d bytes, over the %d strata keeps for a container", n, maxLabelBytes)
	}
	return out, nil
}

// jsonSize is how many bytes labels take in JSON, where a control character takes six.
func jsonSize(labels map[string]string) int {
	b, err := json.Marshal(labels)
	if err != nil {
		return 0 // a map of strings always encodes
	}
	return len(b)
}

// PreloadLabelFiles reads the --label-file files of a run or create, as MergeLabels will,
// for the reason PreloadUserFiles reads the env files early: a FIFO must not block a CLI that
// holds a lock or has started the container's init.
func PreloadLabelFiles(files []string) {
	for _, f := range files {
		_, _ = ReadUserFile(f, maxLabelBytes)
	}
}

// LabelList is labels as "key=value" strings sorted by key: ps's {{.Labels}} joins them with
// commas (docker's in map order, which changes from one ps to the next).
func LabelList(labels map[string]string) []string {
	out := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		out = append(out, k+"="+labels[k])
	}
	return out
}
