package manifestkeys

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name, in  string
		ambiguous bool
	}{
		{"plain", `{"schemaVersion":2,"layers":[{"digest":"x","size":1}]}`, false},
		{"not JSON", `<html>`, false},
		{"key twice", `{"layers":[],"layers":[]}`, true},
		{"key folded", `{"LAYERS":[]}`, true},
		{"key folded with a long s", `{"layerſ":[]}`, true},
		{"descriptor key folded", `{"layers":[{"Digest":"x"}]}`, true},
		{"platform key folded", `{"manifests":[{"platform":{"OS":"linux"}}]}`, true},
		{"annotation twice", `{"annotations":{"a":"1","a":"2"}}`, true},
		{"annotations in two cases", `{"annotations":{"a":"1","A":"2"}}`, false},
		{"unknown field", `{"x":{"Layers":1}}`, false},
		{"a long key twice, quoted back cut", `{"` + strings.Repeat("k", 1000) + `":1,"` + strings.Repeat("k", 1000) + `":2}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.in))
			var a *AmbiguousError
			if got := errors.As(err, &a); got != tt.ambiguous {
				t.Fatalf("Check(%.60s) = %v, want ambiguous %v", tt.in, err, tt.ambiguous)
			}
			if err != nil && len(err.Error()) > 200 {
				t.Errorf("Check error of %d bytes: %.100s…", len(err.Error()), err)
			}
		})
	}
}
