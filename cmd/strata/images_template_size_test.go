package main

import (
	"strings"
	"testing"
)

// TestImagesTemplateDockerValues: a --format template sees docker's values: {{.Size}} is
// the size as the table shows it ("887kB"), as docker prints it, where it printed the bytes;
// --format json has it so too, as docker's (TestImagesJSONDocker). A format that begins with "table" without a space
// ("table{{.ID}}") is a table, with its header, as docker's formatter reads it.
func TestImagesTemplateDockerValues(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	human, err := strata(t, root, nil, "images", "--format", "{{.SizeHuman}}")
	if err != nil || !strings.HasSuffix(strings.TrimSpace(human), "kB") {
		t.Fatalf("images --format {{.SizeHuman}} = %q, %v", human, err)
	}
	if got, err := strata(t, root, nil, "images", "--format", "{{.Repository}} {{.Size}}"); err != nil || got != "busybox "+human {
		t.Errorf("images --format '{{.Repository}} {{.Size}}' = %q, %v; want %q", got, err, "busybox "+human)
	}
	if got, err := strata(t, root, nil, "images", "--format", "json"); err != nil || !strings.Contains(got, `"Size":"`+strings.TrimSpace(human)+`"`) {
		t.Errorf("images --format json = %q, %v; want the size as the table shows it", got, err)
	}
	got, err := strata(t, root, nil, "images", "--format", "table{{.ID}}\t{{.Size}}")
	if err != nil || !strings.HasPrefix(got, "IMAGE ID       SIZE\n") || strings.Contains(got, "table") {
		t.Errorf("images --format 'table{{.ID}}\\t{{.Size}}' = %q, %v; want docker's table", got, err)
	}
}
