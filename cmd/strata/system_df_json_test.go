package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSystemDfJSONDocker: system df --format json is docker's: {{json .}} of each summary
// row, one object a line (docker/cli cli/command/formatter/disk_usage.go through
// formatter.MarshalJSON), with the strings its table prints, keys sorted. strata printed its
// whole report as one indented document, which a script reading docker's lines could not
// parse; that report is -v --format json's, as docker's -v --format json is one document.
func TestSystemDfJSONDocker(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	rows, err := strata(t, root, nil, "system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}")
	if err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "system", "df", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := strings.Split(strings.TrimSuffix(rows, "\n"), "\n")
	if len(lines) != len(want) || !strings.HasPrefix(out, `{"Active":"0","Reclaimable":`) {
		t.Fatalf("system df --format json = %q; want %d lines of docker's keys in order", out, len(want))
	}
	for i, line := range lines {
		var r struct{ Type, TotalCount, Active, Size, Reclaimable string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("system df --format json line %q: %v", line, err)
		}
		if got := strings.Join([]string{r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable}, "|"); got != want[i] {
			t.Errorf("system df --format json line %d = %q, want %q", i, got, want[i])
		}
	}
	var u usage
	if out, err := strata(t, root, nil, "system", "df", "-v", "--format", "json"); err != nil || json.Unmarshal([]byte(out), &u) != nil || len(u.Images) != 1 {
		t.Errorf("system df -v --format json = %q, %v; want the whole report", out, err)
	}
}
