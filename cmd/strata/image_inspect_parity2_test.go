package main

import "testing"

// TestImageInspectDockerFields: image inspect has docker's Parent, Comment, DockerVersion,
// Author and Metadata.LastTagTime, so templates written for docker's image inspect
// ('{{.Author}}', '{{.Parent}}') print what docker's do for a pulled image instead of failing
// with "no field Author". inspect of an image shows them too.
func TestImageInspectDockerFields(t *testing.T) {
	root := loadedTestImages(t)
	const format = "{{.Parent}}|{{.Comment}}|{{.DockerVersion}}|{{.Author}}|{{.Metadata.LastTagTime}}"
	const want = "||||0001-01-01T00:00:00Z\n"
	for _, cmd := range [][]string{{"image", "inspect"}, {"inspect", "--type", "image"}} {
		args := append(cmd, "-f", format, "busybox:1.38.0-musl")
		if out, err := strata(t, root, nil, args...); err != nil || out != want {
			t.Errorf("%q = %q, %v; want %q", args, out, err, want)
		}
	}
}
