package main

import (
	"strings"
	"testing"
)

func TestPsFilter(t *testing.T) {
	rows := []psRow{
		{ID: "aaa111", Names: "web-1", State: "running", Image: "alpine", imageID: "sha256:04574bec7a1d"},
		{ID: "bbb222", Names: "web-2", State: "exited", ExitCode: 0, Image: "alpine:3.20.3", imageID: "sha256:04574bec7a1d"},
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
		{filters: []string{"exited=137"}, want: "db", all: true},
		{filters: []string{"status=paused"}, want: "", all: true},
		// ancestor: a name means its tag or latest, as docker; an ID prefix any name of it.
		{filters: []string{"ancestor=alpine"}, want: "web-1"},
		{filters: []string{"ancestor=alpine:latest"}, want: "web-1"},
		{filters: []string{"ancestor=alpine:3.20.3"}, want: "web-2"},
		{filters: []string{"ancestor=sha256:0457"}, want: "web-1 web-2"},
		{filters: []string{"ancestor=postgres:16", "ancestor=localhost:5000/job:latest"}, want: "db job"},
		{filters: []string{"ancestor=9f3c", "status=exited"}, want: "db", all: true},
	}
	for _, tt := range tests {
		f, err := parsePsFilter(tt.filters)
		if err != nil {
			t.Fatalf("parsePsFilter(%q) = %v", tt.filters, err)
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
	for _, bad := range []string{"name", "bogus=1", "status=zombie", "exited=x", "name=[", "ancestor="} {
		if _, err := parsePsFilter([]string{bad}); err == nil || !strings.Contains(err.Error(), "--filter") {
			t.Errorf("parsePsFilter(%q) = %v, want an invalid --filter error", bad, err)
		}
	}
}
