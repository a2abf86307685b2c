package runner

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMergeLabels(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "labels")
	content := "\ufeffteam=infra\n\n  # a comment\n   tier=db\nflag\nempty=\nspaced=a b \n"
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	image := map[string]string{"maintainer": "someone", "tier": "image's"}
	got, err := MergeLabels(image, []string{"tier=web", "k", "a=b=c"}, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"maintainer": "someone", // the image's, nothing over it
		"team":       "infra",   // the byte-order mark is no part of the key
		"tier":       "web",     // the flag over the file over the image
		"flag":       "",
		"empty":      "",
		"spaced":     "a b ", // values pass through untrimmed, as docker's
		"k":          "",
		"a":          "b=c",
	}
	if !maps.Equal(got, want) {
		t.Errorf("MergeLabels = %v, want %v", got, want)
	}
	if got, err := MergeLabels(nil, nil, nil); err != nil || got != nil {
		t.Errorf("MergeLabels without labels = %v, %v; want nil", got, err)
	}
	if got := LabelList(want); strings.Join(got, ",") != "a=b=c,empty=,flag=,k=,maintainer=someone,spaced=a b ,team=infra,tier=web" {
		t.Errorf("LabelList = %q, want sorted key=value", got)
	}
}

// TestMergeLabelsBad: each bad label or label file is one error line naming what is wrong,
// and a huge or endless file stops at the bound.
func TestMergeLabelsBad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name         string
		flags, files []string
		want         string
	}{
		{"empty name", []string{"=x"}, nil, "empty name"},
		{"blank name", []string{"  =x"}, nil, "empty name"},
		{"empty flag", []string{""}, nil, "empty name"},
		{"space in name", []string{"a b=c"}, nil, "contains whitespaces"},
		{"invalid utf-8", []string{"k=\xff"}, nil, "invalid UTF-8"},
		{"NUL in key", []string{"b\x00=2"}, nil, "NUL byte"},
		{"NUL in value", []string{"b=\x00"}, nil, "NUL byte"},
		{"file NUL", nil, []string{write("nul", "b\x00=2\n")}, "line 1"},
		{"file line with space", nil, []string{write("bad1", "ok=1\nbad key=2\n")}, "line 2"},
		{"file invalid utf-8", nil, []string{write("bad2", "k=\xfe\n")}, "invalid UTF-8"},
		{"missing file", nil, []string{filepath.Join(dir, "nope")}, "no such file"},
		{"directory", nil, []string{dir}, "is a directory"},
		{"endless file", nil, []string{"/dev/zero"}, "label file"},
		{"huge file", nil, []string{write("huge", strings.Repeat("k=v\n", maxLabelBytes/4+1))}, "label file"},
		{"too many flags", []string{"a=" + strings.Repeat("x", maxLabelBytes/2), "b=" + strings.Repeat("x", maxLabelBytes/2)}, nil, "over"},
		// Control characters take six bytes each in config.json's JSON.
		{"escaped", []string{"a=" + strings.Repeat("\x01", maxLabelBytes/4)}, nil, "over"},
		{"image's too big", nil, nil, "the image's labels take"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var image map[string]string
			if strings.HasPrefix(tc.name, "image") {
				image = map[string]string{"a": strings.Repeat("x", maxLabelBytes)}
			}
			_, err := MergeLabels(image, tc.flags, tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("MergeLabels(%q, %q) = %v, want one line saying %q", tc.flags, tc.files, err, tc.want)
			}
		})
	}
}
