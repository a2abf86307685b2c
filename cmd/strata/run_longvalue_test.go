package main

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestRunLongSecurityOptCut: a long --security-opt strata does not know is quoted back cut, as
// every other flag's value is, in a short line: it came back whole. (TestSpecLongValueCut
// has the Spec's own checks.)
func TestRunLongSecurityOptCut(t *testing.T) {
	long := strings.Repeat("x", 100000)
	image := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}}}
	o := runOptions{securityOpt: []string{"x=" + long}}
	if _, err := o.spec(image, nil); err == nil || len(err.Error()) > 200 || !strings.HasPrefix(err.Error(), `--security-opt "x=xxx`) {
		t.Errorf("error %.400v, want a short line", err)
	}
}
