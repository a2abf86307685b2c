package integration

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testimages"
)

// TestCLIDockerParity checks what docker users expect where the errors are quiet: --format
// table and json, inspect -f, commands over several containers where one is missing (docker
// acts on the others, names the missing one, exits 1), rmi of an image a container uses
// (refused unless -f, in docker's words), tag to an invalid name, and the version.
func TestCLIDockerParity(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "par1", "par2") })
	mustStrata(t, root, "run", "-d", "--name", "par1", "alpine", "sleep", "600")
	mustStrata(t, root, "run", "-d", "--name", "par2", "alpine", "sleep", "600")

	t.Run("version", func(t *testing.T) {
		if out := mustStrata(t, root, "version").Stdout; !strings.HasPrefix(out, "Version:") {
			t.Errorf("version = %q, want it to start with Version:", out)
		}
		if out := mustStrata(t, root, "--version").Stdout; !strings.HasPrefix(out, "strata version ") {
			t.Errorf("--version = %q, want strata version …", out)
		}
	})

	t.Run("ps --format json", func(t *testing.T) {
		var names []string
		for _, line := range strings.Split(strings.TrimSpace(mustStrata(t, root, "ps", "--format", "json").Stdout), "\n") {
			var row struct{ Names, State string }
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatalf("ps --format json line %q: %v", line, err)
			}
			names = append(names, row.Names+" "+row.State)
		}
		slices.Sort(names)
		if want := []string{"par1 running", "par2 running"}; !slices.Equal(names, want) {
			t.Errorf("ps --format json = %q, want %q", names, want)
		}
	})

	t.Run("ps order, -n and -l", func(t *testing.T) {
		// As docker: newest first; -n and -l count containers of every state.
		names := func(args ...string) string {
			out := mustStrata(t, root, append([]string{"ps", "--format", "{{.Names}}"}, args...)...).Stdout
			return strings.Join(strings.Fields(out), " ")
		}
		if got := names(); got != "par2 par1" {
			t.Errorf("ps = %q, want the newest first: par2 par1", got)
		}
		if got := names("-n", "1"); got != "par2" {
			t.Errorf("ps -n 1 = %q, want par2", got)
		}
		if got := names("-l"); got != "par2" {
			t.Errorf("ps -l = %q, want par2", got)
		}
		if got := names("--last", "5"); got != "par2 par1" {
			t.Errorf("ps --last 5 = %q, want par2 par1", got)
		}
	})

	t.Run("ps -q --no-trunc", func(t *testing.T) {
		for _, id := range strings.Fields(mustStrata(t, root, "ps", "-q", "--no-trunc").Stdout) {
			if len(id) != 64 {
				t.Errorf("ps -q --no-trunc printed %q, want a 64-hex ID", id)
			}
		}
	})

	t.Run("ps --format table", func(t *testing.T) {
		lines := strings.Split(strings.TrimSpace(mustStrata(t, root, "ps", "--format", "table").Stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "CONTAINER ID") {
			t.Errorf("ps --format table = %q, want the default table of 2 containers", lines)
		}
		// As in a shell's single quotes: \t arrives as a backslash and a t.
		lines = strings.Split(strings.TrimSpace(mustStrata(t, root, "ps", "--format", `table {{.Names}}\t{{.State}}`).Stdout), "\n")
		var got []string
		for _, l := range lines {
			got = append(got, strings.Join(strings.Fields(l), " "))
		}
		slices.Sort(got[1:])
		if want := []string{"NAMES STATE", "par1 running", "par2 running"}; !slices.Equal(got, want) {
			t.Errorf("ps --format 'table {{.Names}}\\t{{.State}}' = %q, want %q", got, want)
		}
	})

	t.Run("images --format table", func(t *testing.T) {
		out := mustStrata(t, root, "images", "--format", `table {{.Repository}}\t{{.Tag}}`).Stdout
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if strings.Join(strings.Fields(lines[0]), " ") != "REPOSITORY TAG" || !strings.Contains(out, "alpine") {
			t.Errorf("images --format 'table …' = %q, want a REPOSITORY TAG header and alpine", out)
		}
	})

	t.Run("inspect -f", func(t *testing.T) {
		out := mustStrata(t, root, "inspect", "-f", "{{.Name}} {{.State.Running}}", "par1", "par2").Stdout
		if want := "/par1 true\n/par2 true\n"; out != want {
			t.Errorf("inspect -f = %q, want %q", out, want)
		}
		out = mustStrata(t, root, "inspect", "--type", "image", "-f", "{{index .RepoTags 0}}", "alpine").Stdout
		if want := "alpine:latest\n"; out != want {
			t.Errorf("inspect --type image -f = %q, want %q", out, want)
		}
	})

	t.Run("stop and kill several, one missing", func(t *testing.T) {
		r := strata(t, root, "stop", "-t", "0", "par1", "nosuch")
		checkFailed(t, r, "nosuch")
		if r.Code != 1 || r.Stdout != "par1\n" {
			t.Errorf("stop par1 nosuch = exit %d, stdout %q; want 1 and par1", r.Code, r.Stdout)
		}
		r = strata(t, root, "kill", "nosuch", "par2")
		checkFailed(t, r, "nosuch")
		if r.Code != 1 || r.Stdout != "par2\n" {
			t.Errorf("kill nosuch par2 = exit %d, stdout %q; want 1 and par2", r.Code, r.Stdout)
		}
		mustStrata(t, root, "wait", "par2")
		if out := mustStrata(t, root, "ps", "-q", "-f", "status=exited", "-f", "name=^par").Stdout; len(strings.Fields(out)) != 2 {
			t.Errorf("ps -q -f status=exited -f name=^par = %q, want the 2 stopped containers", out)
		}
		if out := mustStrata(t, root, "inspect", "-f", "{{.State.Running}}", "par1", "par2").Stdout; out != "false\nfalse\n" {
			t.Errorf("after stop and kill, running = %q, want false twice", out)
		}
	})

	t.Run("rmi of an image in use", func(t *testing.T) {
		// As docker: while another tag keeps the image, a tag only goes; the last is refused.
		if out := mustStrata(t, root, "rmi", "alpine:3.20.3").Stdout; out != "Untagged: alpine:3.20.3\n" {
			t.Errorf("rmi alpine:3.20.3 with alpine:latest left = %q, want it untagged", out)
		}
		r := strata(t, root, "rmi", "alpine")
		checkFailed(t, r, `conflict: unable to remove repository reference "alpine" (must force)`)
		if r.Code != 1 {
			t.Errorf("rmi alpine = exit %d, want 1", r.Code)
		}
		mustStrata(t, root, "image", "inspect", "alpine")
	})

	t.Run("tag to an invalid name", func(t *testing.T) {
		r := strata(t, root, "tag", "alpine", "upper/CASE")
		checkFailed(t, r, "must be lowercase")
		if r.Code != 1 {
			t.Errorf("tag alpine upper/CASE = exit %d, want 1", r.Code)
		}
	})

	t.Run("images -q", func(t *testing.T) {
		ids := strings.Fields(mustStrata(t, root, "images", "-q").Stdout)
		rows := strings.Split(strings.TrimSpace(mustStrata(t, root, "images", "--format", "{{.ID}}").Stdout), "\n")
		if len(ids) != len(rows) || len(ids) == 0 {
			t.Fatalf("images -q = %q, want one ID per row of %q", ids, rows)
		}
		for i, id := range ids {
			if len(id) != 12 || !strings.Contains(rows[i], id) {
				t.Errorf("images -q line %d = %q, want the short form of %q", i, id, rows[i])
			}
		}
	})

	t.Run("rm several, one missing", func(t *testing.T) {
		r := strata(t, root, "rm", "-v", "par1", "nosuch", "par2")
		checkFailed(t, r, "nosuch")
		if r.Code != 1 || r.Stdout != "par1\npar2\n" {
			t.Errorf("rm par1 nosuch par2 = exit %d, stdout %q; want 1 and par1, par2", r.Code, r.Stdout)
		}
		if out := mustStrata(t, root, "ps", "-a", "-q").Stdout; out != "" {
			t.Errorf("ps -a -q after rm = %q, want nothing", out)
		}
	})
}

// loadedRoot is a new root holding the testdata images, loaded from the layout it returns too
// (no registry).
func loadedRoot(t *testing.T) (root, layout string) {
	t.Helper()
	root = newRoot(t)
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	layout = filepath.Join(t.TempDir(), "layout")
	if err := testimages.WriteLayout(td, layout); err != nil {
		t.Fatal(err)
	}
	mustStrata(t, root, "load", "-q", "-i", layout)
	return root, layout
}
