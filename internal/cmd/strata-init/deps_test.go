package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelperLinksNoHeavyPackages: the helper is the container's init (and its monitor), started
// for every container, and it runs inside the container's root. What runner imports is linked
// into it: package net or os/user (through archive/tar) make it a cgo binary wherever cgo is
// on, which cannot run in an image without the host's libc (go test's own builds are such), and
// tar, compression and registry code add megabytes and package inits (cpuid probes that trap to
// the hypervisor) to every start. Such code belongs in packages the helper does not link
// (runner/fstar, layers, cmd/strata). compress/gzip is the one exception: the monitor gzips
// the log files it rotates (--log-opt compress, docker's json-file and local), and gzip is
// ~90 KB with ~20 µs of package init.
func TestHelperLinksNoHeavyPackages(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: no go tool on PATH: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{"runtime/cgo", "net", "os/user", "archive/tar", "net/url",
		"github.com/klauspost/compress/zstd", "github.com/google/go-containerregistry/pkg/v1",
		"github.com/strata-run/strata/layers", "net/http"}
	deps := strings.Fields(string(out))
	for _, f := range forbidden {
		for _, d := range deps {
			if d == f {
				t.Errorf("the init helper links %s", f)
			}
		}
	}
}
