package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestHistory: strata history (and image history) shows an image's steps as docker history
// does: newest first, the image's ID on the newest and <missing> on the others, docker's
// columns, CREATED BY cut to 45 runes unless --no-trunc, -q the IDs, -H=false times and
// bytes exact, --format json docker's keys, --platform another platform's image.
func TestHistory(t *testing.T) {
	root := loadedTestImages(t)
	id, err := strata(t, root, nil, "images", "--no-trunc", "--format", "{{.ID}}", "alpine:3.20.3")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	out, err := strata(t, root, nil, "history", "alpine:3.20.3")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "IMAGE          CREATED       CREATED BY ") || !strings.HasSuffix(lines[0], "SIZE      COMMENT") ||
		!strings.HasPrefix(lines[1], shortID(id)+"   ") || !strings.Contains(lines[1], `CMD ["/bin/sh"]`) || !strings.Contains(lines[1], " 0B ") ||
		!strings.HasPrefix(lines[2], "<missing>      ") || !strings.Contains(lines[2], "ADD alpine-minirootfs-3.20.3-x86_64.tar.gz /…") {
		t.Errorf("history alpine:3.20.3 =\n%s\nwant docker's table, newest first", out)
	}
	if out, err := strata(t, root, nil, "image", "history", "-q", "alpine:3.20.3"); err != nil || out != shortID(id)+"\n<missing>\n" {
		t.Errorf("image history -q = %q, %v", out, err)
	}
	if out, err := strata(t, root, nil, "history", "--no-trunc", "--format", "{{.ID}} {{.CreatedBy}}", "alpine:3.20.3"); err != nil ||
		!strings.Contains(out, id+` CMD ["/bin/sh"]`) || !strings.Contains(out, "<missing> ADD alpine-minirootfs-3.20.3-x86_64.tar.gz / # buildkit\n") {
		t.Errorf("history --no-trunc = %q, %v", out, err)
	}
	out, err = strata(t, root, nil, "history", "-H=false", "alpine:3.20.3")
	created := time.Date(2024, 9, 6, 12, 5, 36, 0, time.UTC).Local().Format(time.RFC3339)
	if err != nil || !strings.Contains(out, "CREATED AT") || !strings.Contains(out, created) || strings.Contains(out, "ago") || strings.Contains(out, "MB") {
		t.Errorf("history -H=false = %q, %v; want times as %s and sizes in bytes", out, err, created)
	}
	out, err = strata(t, root, nil, "history", "--format", "json", "alpine:3.20.3")
	if err != nil {
		t.Fatal(err)
	}
	var first map[string]string
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &first); err != nil || len(first) != 6 ||
		first["ID"] != shortID(id) || first["Size"] != "0B" || first["Comment"] != "buildkit.dockerfile.v0" || first["CreatedSince"] == "" {
		t.Errorf("history --format json = %q (%v); want docker's six keys", out, err)
	}
	if out, err := strata(t, root, nil, "history", "--platform", "linux/arm64", "--format", "{{.CreatedBy}}", "alpine:3.20.3"); err != nil || !strings.Contains(out, "aarch64") {
		t.Errorf("history --platform linux/arm64 = %q, %v; want the arm64 image's steps", out, err)
	}
	if _, err := strata(t, root, nil, "history", "nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("history nosuch: %v; want not in the store", err)
	}
}
