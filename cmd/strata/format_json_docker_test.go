package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
)

// jsonKeys is the keys of out's one JSON line in the order they are written, and the value
// of each; it fails t when out is not one object of strings.
func jsonKeys(t *testing.T, what, out string) ([]string, map[string]string) {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(out), &m); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("%s --format json = %q: %v; want one object of strings", what, out, err)
	}
	// The order as written: each key's index in the line.
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return strings.Index(out, `"`+a+`":`) - strings.Index(out, `"`+b+`":`)
	})
	return keys, m
}

// TestFormatJSONDockerKeys: ps, volume ls and stats --format json print docker's {{json .}}
// of its formatter's row (docker/cli cli/command/formatter/container.go, volume.go,
// cli/command/container/formatter_stats.go, through formatter.MarshalJSON): exactly its
// placeholders, in sorted order, each a string. ps printed strata's own Pid and ExitCode
// (numbers) too; volume ls printed CreatedAt, which docker's row has not, and lacked
// Availability, Group, Links, Size and Status (N/A where docker lists volumes).
func TestFormatJSONDockerKeys(t *testing.T) {
	c := &runner.Container{ID: strings.Repeat("a", 64), Config: runner.Config{
		Image: "alpine", Name: "web", Created: time.Now(), Spec: runner.Spec{Args: []string{"sh"}},
	}}
	c.State.Status = runner.StatusCreated
	var out bytes.Buffer
	if err := printPs(&out, []psRow{newPsRow(c)}, false, false, "json"); err != nil {
		t.Fatal(err)
	}
	keys, _ := jsonKeys(t, "ps", out.String())
	if want := []string{"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"}; !slices.Equal(keys, want) {
		t.Errorf("ps --format json keys = %v, want docker's %v", keys, want)
	}

	root := t.TempDir()
	if _, err := strata(t, root, nil, "volume", "create", "--label", "a=<b>", "v1"); err != nil {
		t.Fatal(err)
	}
	got, err := strata(t, root, nil, "volume", "ls", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	keys, m := jsonKeys(t, "volume ls", got)
	if want := []string{"Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size", "Status"}; !slices.Equal(keys, want) ||
		m["Links"] != "N/A" || m["Size"] != "N/A" || m["Name"] != "v1" || m["Labels"] != "a=<b>" || !strings.Contains(got, `\u003cb\u003e`) {
		t.Errorf("volume ls --format json = %s\nwant docker's keys %v", got, want)
	}
	if got, err := strata(t, root, nil, "volume", "ls", "--format", "{{.Name}} {{.Links}} {{.Size}} {{.Group}} {{.Availability}} {{.Status}}"); err != nil || got != "v1 N/A N/A N/A N/A N/A\n" {
		t.Errorf("volume ls --format with docker's placeholders = %q, %v", got, err)
	}

	at := time.Now()
	row := newStatsRow(statsTarget{c: c, named: "web"}, statsSample{at: at}, statsSample{at: at.Add(time.Second), stats: cgroups.Stats{MemoryLimit: 1 << 20}}, 8<<20)
	out.Reset()
	if err := printStats(&out, []statsRow{row}, "json"); err != nil {
		t.Fatal(err)
	}
	keys, _ = jsonKeys(t, "stats", out.String())
	if want := []string{"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"}; !slices.Equal(keys, want) {
		t.Errorf("stats --format json keys = %v, want docker's %v", keys, want)
	}
}
