package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
)

// TestStatsDockerFields: stats --format sees docker stats's fields as docker's templates give
// them ({{.CPUPerc}} "50.00%", {{.MemUsage}} "1MiB / 4MiB", {{.PIDs}}, {{.Container}}), and
// --format json has docker's keys: a template written for docker printed raw numbers
// ({{.CPUPerc}} 50, {{.MemUsage}} 1048576) or failed ({{.PIDs}}, {{.Container}}). {{.Pids}},
// strata's own, still prints the number.
func TestStatsDockerFields(t *testing.T) {
	c := &runner.Container{ID: strings.Repeat("ab", 32), Config: runner.Config{Name: "web"}}
	at := time.Now()
	prev := statsSample{at: at, stats: cgroups.Stats{CPUUsageNs: 1e9}}
	cur := statsSample{at: at.Add(time.Second), stats: cgroups.Stats{CPUUsageNs: 1.5e9, MemoryUsage: 1 << 20, MemoryLimit: 4 << 20, PidsCurrent: 3}}
	row := newStatsRow(statsTarget{c: c, named: "web"}, prev, cur, 8<<20)
	var b bytes.Buffer
	if err := printStats(&b, []statsRow{row}, "{{.Container}}|{{.ID}}|{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}|{{.Pids}}"); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(b.String()), "web|abababababab|web|50.00%|1MiB / 4MiB|25.00%|0B / 0B|0B / 0B|3|3"; got != want {
		t.Errorf("stats --format = %q, want %q", got, want)
	}
	b.Reset()
	if err := printStats(&b, []statsRow{row}, "json"); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"}; !slices.Equal(keys, want) {
		t.Errorf("stats --format json keys = %v, want docker's %v", keys, want)
	}
	b.Reset()
	if err := printStats(&b, []statsRow{row}, `table {{.Container}}\t{{.MemUsage}}\t{{.PIDs}}`); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(b.String(), "\n"); !strings.HasPrefix(lines[0], "CONTAINER") || !strings.Contains(lines[0], "MEM USAGE / LIMIT") || !strings.Contains(lines[0], "PIDS") {
		t.Errorf("stats table header = %q, want docker's", lines[0])
	}
	b.Reset()
	if err := printStats(&b, []statsRow{row}, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "50.00%") || !strings.Contains(b.String(), "1MiB / 4MiB") {
		t.Errorf("stats table = %q", b.String())
	}
}

// TestStatsNamedStopped: a named container that does not run is shown with nothing used, as
// docker stats shows it, not refused: `stats --no-stream a b` with b stopped printed no line
// for a either and exited 1.
func TestStatsNamedStopped(t *testing.T) {
	s, err := runner.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(runner.Config{Name: "idle"}); err != nil {
		t.Fatal(err)
	}
	list, err := statsTargets(s, []string{"idle"}, false)
	if err != nil || len(list) != 1 {
		t.Fatalf("statsTargets(idle) = %v, %v; want the container", list, err)
	}
	if _, err := statsTargets(s, []string{"nosuch"}, false); err == nil {
		t.Errorf("statsTargets(nosuch) = nil error, want no such container")
	}
	row := newStatsRow(list[0], statsSample{}, statsSample{}, 8<<20)
	var b bytes.Buffer
	if err := printStats(&b, []statsRow{row}, "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.PIDs}}"); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(b.String()), "idle 0.00% 0B / 0B 0.00% 0"; got != want {
		t.Errorf("stats of a stopped container = %q, want %q", got, want)
	}
}
