package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestImagesFilterLabel: images --filter label=KEY, label=KEY=VALUE and label!=… select by the
// labels of the image's config, as docker's image list does; strata refused the key ("unknown
// key \"label\""), so a script's `images -q --filter label=com.example.app=web` failed.
func TestImagesFilterLabel(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for name, labels := range map[string]map[string]string{
		"web": {"app": "web", "tier": "front"},
		"db":  {"app": "db"},
	} {
		storeEditedBusybox(t, root, "docker.io/library/"+name+":1", func(c *v1.Config) { c.Labels = labels })
	}
	names := func(args ...string) (string, error) {
		out, err := strata(t, root, nil, append([]string{"images", "--format", "{{.Repository}}"}, args...)...)
		lines := strings.Fields(out)
		slices.Sort(lines)
		return strings.Join(lines, " "), err
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-f", "label=app"}, "db web"},
		{[]string{"-f", "label=app=web"}, "web"},
		{[]string{"-f", "label=app", "-f", "label=tier"}, "web"},
		{[]string{"-f", "label=app=db", "-f", "label=tier"}, ""},
		{[]string{"-f", "label=nosuch"}, ""},
		{[]string{"-f", "label!=tier"}, "busybox db"},
		{[]string{"-f", "label!=app=web"}, "db"},
		{[]string{"-f", "label=app", "-f", "reference=w*"}, "web"},
	} {
		if got, err := names(tt.args...); err != nil || got != tt.want {
			t.Errorf("images %q = %q, %v; want %q", tt.args, got, err, tt.want)
		}
	}
	if _, err := names("-f", "label="); err == nil || !strings.Contains(err.Error(), "label=KEY") {
		t.Errorf("images -f label= = %v, want an error saying label=KEY", err)
	}
}

// TestImagesFilterUntil: images --filter until= lists the images created before a time or a
// duration ago, as docker's image list does; strata refused the key.
func TestImagesFilterUntil(t *testing.T) {
	root := loadedTestImages(t)
	all, err := strata(t, root, nil, "images", "-q")
	if err != nil || all == "" {
		t.Fatalf("images -q = %q, %v", all, err)
	}
	// The test images were built long before now, and after 2000.
	if out, err := strata(t, root, nil, "images", "-q", "-f", "until=1s"); err != nil || out != all {
		t.Errorf("images -q -f until=1s = %q, %v; want every image, %q", out, err, all)
	}
	for _, until := range []string{"2000-01-01", "946684800"} {
		if out, err := strata(t, root, nil, "images", "-q", "-f", "until="+until); err != nil || out != "" {
			t.Errorf("images -q -f until=%s = %q, %v; want none", until, out, err)
		}
	}
	if _, err := strata(t, root, nil, "images", "-f", "until=soon"); err == nil || !strings.Contains(err.Error(), "until") {
		t.Errorf("images -f until=soon = %v, want an error naming until", err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f, err := parseImageFilterAt(nil, []string{"until=1h"}, nil, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		created time.Time
		want    bool
	}{{t0, true}, {t0.Add(time.Hour), false}, {t0.Add(90 * time.Minute), false}, {time.Time{}, false}} {
		if got := f.match(imageRow{Repository: "x", Tag: "1", CreatedAt: tt.created}); got != tt.want {
			t.Errorf("until=1h at t0+2h matches an image created %v: %v, want %v", tt.created, got, tt.want)
		}
	}
}

// TestImagesFilterDanglingConflict: dangling=true with dangling=false is refused, as docker
// refuses it ("invalid filter 'dangling=[false true]'"); strata listed nothing and exited 0.
// The same value twice is one filter.
func TestImagesFilterDanglingConflict(t *testing.T) {
	root := loadedTestImages(t)
	if _, err := strata(t, root, nil, "images", "-f", "dangling=true", "-f", "dangling=false"); err == nil || !strings.Contains(err.Error(), "dangling") {
		t.Errorf("images -f dangling=true -f dangling=false = %v, want an error naming dangling", err)
	}
	all, _ := strata(t, root, nil, "images", "-q")
	if out, err := strata(t, root, nil, "images", "-q", "-f", "dangling=false", "-f", "dangling=false"); err != nil || out != all {
		t.Errorf("images -q -f dangling=false twice = %q, %v; want %q", out, err, all)
	}
}
