package main

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
)

// TestPsLatestLast: -l shows the latest container, and -n N, when given with it, wins, as
// docker's client reads them (-l sets a limit of 1 only when -n is not set): `ps -l -n 2`
// showed one container.
func TestPsLatestLast(t *testing.T) {
	root := t.TempDir()
	s, err := runner.OpenStore((&globals{root: root}).containersDir())
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now().Add(-time.Minute)
	for i, name := range []string{"c1", "c2", "c3"} {
		if _, err := s.Create(runner.Config{Name: name, Created: created.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ps", "-l"}, "c3"},
		{[]string{"ps", "-l", "-n", "2"}, "c3 c2"},
		{[]string{"ps", "-n", "2", "-l"}, "c3 c2"},
		{[]string{"ps", "-l", "-n", "-1"}, "c3"},
		{[]string{"ps", "-n", "0"}, ""},
	} {
		stdout, _, err := runCLI(t, root, append(tt.args, "--format", "{{.Names}}")...)
		if got := strings.Join(strings.Fields(stdout), " "); err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", strings.Join(tt.args, " "), got, err, tt.want)
		}
	}
}
