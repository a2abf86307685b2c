package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/runner"
)

// TestImageHealthStartInterval: an image's HEALTHCHECK keeps its StartInterval (docker's
// HEALTHCHECK --start-interval, which go-containerregistry's HealthConfig has no field for)
// where strata writes the healthcheck into an image (withHealthcheck, as commit does) and
// where image inspect shows it, in docker's JSON.
func TestImageHealthStartInterval(t *testing.T) {
	store, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Env = []string{"KEEP=1"}
	h := &runner.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: time.Second, StartPeriod: 3 * time.Second, StartInterval: 200 * time.Millisecond, Retries: 4}
	cf.Config.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, StartPeriod: h.StartPeriod, Retries: h.Retries}
	img, err := mutate.ConfigFile(base, cf)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = withHealthcheck(img, h); err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(context.Background(), "example.com/checked:1", img, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := inspectImage(store, "example.com/checked:1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(got.Config)
	if err != nil {
		t.Fatal(err)
	}
	want := `"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":1000000000,"StartPeriod":3000000000,"StartInterval":200000000,"Retries":4}`
	if !strings.Contains(string(b), want) || strings.Count(string(b), "Healthcheck") != 1 {
		t.Errorf("image inspect's Config = %s, want one %s", b, want)
	}
	if got.Config.Env[0] != "KEEP=1" {
		t.Errorf("image inspect's Config.Env = %q, want the config's own", got.Config.Env)
	}
	// The stored config is the image's config blob, whose digest is its ID.
	id, err := img.ConfigName()
	if err != nil || got.Id != id.String() {
		t.Errorf("image inspect's Id = %s, want the written config's %s (%v)", got.Id, id, err)
	}

	// Without a healthcheck, or one without StartInterval, the image is left as it is.
	if same, err := withHealthcheck(base, &runner.HealthConfig{Test: []string{"NONE"}}); err != nil || same != base {
		t.Errorf("withHealthcheck(NONE) = %v, %v; want the image itself", same, err)
	}
}
