package integration

import "testing"

// TestLogTagTemplate: --log-opt tag is a Go template over docker's logger.Info, with its
// helpers, as docker's json-file renders it; the monitor of a detached container, which
// renders none, logs the tag the CLI rendered at create, and again after a rename, as docker
// renders it at each start. A template docker's daemon fails on is refused at create, in its
// words.
func TestLogTagTemplate(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "tagged", "retagged") })
	mustStrata(t, root, "run", "-d", "--name", "tagged", "--label", "app=shop", "--log-opt",
		`tag={{.Name | upper}}/{{index .ContainerLabels "app"}}/{{.Command}}`, "alpine", "echo", "hi")
	mustStrata(t, root, "wait", "tagged")
	if r := mustStrata(t, root, "logs", "--details", "tagged"); r.Stdout != "tag=TAGGED%2Fshop%2Fecho+hi hi\n" {
		t.Errorf("logs --details = %q, want the rendered tag before the line", r.Stdout)
	}
	mustStrata(t, root, "rename", "tagged", "retagged")
	mustStrata(t, root, "start", "retagged")
	mustStrata(t, root, "wait", "retagged")
	if r := mustStrata(t, root, "logs", "--details", "retagged"); r.Stdout != "tag=TAGGED%2Fshop%2Fecho+hi hi\ntag=RETAGGED%2Fshop%2Fecho+hi hi\n" {
		t.Errorf("logs --details after a rename and a start = %q, want the new name's tag on the new line", r.Stdout)
	}
	want := "strata: template: log-tag:1:2: executing \"log-tag\" at <.Nope>: can't evaluate field Nope in type *logger.Info\n"
	if r := strata(t, root, "create", "--log-opt", "tag={{.Nope}}", "alpine", "true"); r.Code != 125 || r.Stderr != want {
		t.Errorf("create with tag {{.Nope}} = exit %d, %q; want exit 125, %q", r.Code, r.Stderr, want)
	}
}
