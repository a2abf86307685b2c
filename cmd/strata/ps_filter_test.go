package main

import (
	"strings"
	"testing"

	"github.com/strata-run/strata/registry"
)

func TestPsFilter(t *testing.T) {
	rows := []psRow{
		{ID: "aaa111", Names: "web-1", State: "running", Image: "alpine", imageID: "sha256:04574bec7a1d", health: "healthy"},
		{ID: "bbb222", Names: "web-2", State: "exited", ExitCode: 0, Image: "alpine:3.20.3", imageID: "sha256:04574bec7a1d", health: "unhealthy"},
		{ID: "ccc333", Names: "db", State: "exited", ExitCode: 137, Image: "docker.io/library/postgres:16", imageID: "sha256:9f3c"},
		{ID: "ddd444", Names: "job", State: "created", Image: "localhost:5000/job"},
	}
	tests := []struct {
		filters []string
		want    string // the names that match
		all     bool   // impliesAll
	}{
		{want: "web-1 web-2 db job"},
		{filters: []string{"name=web"}, want: "web-1 web-2"},
		{filters: []string{"name=^db$"}, want: "db"},
		{filters: []string{"id=bbb"}, want: "web-2"},
		{filters: []string{"status=exited"}, want: "web-2 db", all: true},
		{filters: []string{"status=exited", "status=created"}, want: "web-2 db job", all: true},
		{filters: []string{"status=exited", "name=web"}, want: "web-2", all: true},
		// exited= needs -a, as docker's (only status= sets All in its daemon).
		{filters: []string{"exited=137"}, want: "db"},
		// isolation= is Windows' alone: docker on Linux takes it and filters nothing.
		{filters: []string{"isolation=default"}, want: "web-1 web-2 db job"},
		{filters: []string{"isolation=hyperv"}, want: "web-1 web-2 db job"},
		{filters: []string{"status=paused"}, want: "", all: true},
		// ancestor: as docker, the image a name stands for now (resolved below as
		// resolveAncestors would, by the store), or an ID prefix: by ID, whatever name the
		// container was made with.
		{filters: []string{"ancestor=alpine"}, want: "web-1 web-2"},
		{filters: []string{"ancestor=alpine:3.20.3"}, want: "web-1 web-2"},
		{filters: []string{"ancestor=sha256:0457"}, want: "web-1 web-2"},
		{filters: []string{"ancestor=postgres:16", "ancestor=localhost:5000/job:latest"}, want: "db"},
		{filters: []string{"ancestor=nosuch"}, want: ""},
		{filters: []string{"ancestor=9f3c", "status=exited"}, want: "db", all: true},
		// health=: what the container's checks recorded, none without a healthcheck.
		{filters: []string{"health=none"}, want: "db job"},
		{filters: []string{"health=healthy"}, want: "web-1"},
		{filters: []string{"health=starting", "health=unhealthy"}, want: "web-2"},
		{filters: []string{"health=starting"}, want: ""},
		// Keys docker has for what strata's containers never have: scripts pass them.
		{filters: []string{"is-task=false"}, want: "web-1 web-2 db job"},
		{filters: []string{"is-task=true"}, want: ""},
		{filters: []string{"publish=80"}, want: ""},
		{filters: []string{"publish=80/udp", "expose=8000-8080/tcp", "expose=0"}, want: ""},
		{filters: []string{"expose=8080/tcp"}, want: ""},
		{filters: []string{"label=a=b"}, want: ""},
	}
	storeIDs := map[string]string{"alpine": "sha256:04574bec7a1d", "alpine:3.20.3": "sha256:04574bec7a1d", "postgres:16": "sha256:9f3c"}
	for _, tt := range tests {
		f, err := parsePsFilter(tt.filters)
		if err != nil {
			t.Fatalf("parsePsFilter(%q) = %v", tt.filters, err)
		}
		if len(f.ancestors) > 0 {
			f.ancestorIDs = map[string]bool{}
			for _, a := range f.ancestors {
				if id, ok := storeIDs[a]; ok {
					f.ancestorIDs[id] = true
				}
			}
		}
		var got []string
		for _, r := range rows {
			if f.match(r) {
				got = append(got, r.Names)
			}
		}
		if strings.Join(got, " ") != tt.want || f.impliesAll() != tt.all {
			t.Errorf("--filter %q matches %q (all %v), want %q (all %v)", tt.filters, got, f.impliesAll(), tt.want, tt.all)
		}
	}
	for _, bad := range []string{"name", "bogus=1", "status=zombie", "exited=x", "name=[", "ancestor=", "health=sick", "is-task=maybe", "publish=",
		// As docker's daemon: is-task true or false alone, publish and expose a port or a
		// range (its portOp), never with a host address.
		"is-task=1", "is-task=TRUE", "publish=8080:80", "expose=http", "publish=80-70", "expose=70000", "publish=/tcp",
		// A bad name= expression is quoted back escaped and cut, not whole between regexp's
		// backquotes (found by FuzzFilterValues).
		"name=(\r\x1b7", "name=(" + strings.Repeat("a", 1<<20)} {
		_, err := parsePsFilter([]string{bad})
		if err == nil || !strings.Contains(err.Error(), "--filter") {
			t.Errorf("parsePsFilter(%.40q) = %.200v, want an invalid --filter error", bad, err)
		} else if msg := err.Error(); strings.ContainsAny(msg, "\r\n\x1b") || len(msg) > 512 {
			t.Errorf("parsePsFilter(%.40q) = %.200q (%d bytes), want one short line", bad, msg, len(msg))
		}
	}
}

// TestPsAncestorResolves: resolveAncestors finds, in the store, the image ID a name stands for
// now (what run would record), and nothing for a name the store does not have.
func TestPsAncestorResolves(t *testing.T) {
	root := loadedTestImages(t)
	g := &globals{root: root}
	f, err := parsePsFilter([]string{"ancestor=alpine", "ancestor=nosuch"})
	if err != nil {
		t.Fatal(err)
	}
	f.resolveAncestors(g)
	store, err := g.openStore()
	if err != nil {
		t.Fatal(err)
	}
	_, id, _, err := findLocalImage(store, "alpine", registry.DefaultPlatform(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.ancestorIDs) != 1 || !f.ancestorIDs[id.String()] {
		t.Errorf("ancestorIDs = %v, want only alpine's %s", f.ancestorIDs, id)
	}
	if !f.match(psRow{Names: "x", Image: "someothername", imageID: id.String()}) || f.match(psRow{Names: "y", Image: "alpine", imageID: "sha256:0123"}) {
		t.Error("a container matched by the name it was made with, not by the ID alpine has now")
	}
}
