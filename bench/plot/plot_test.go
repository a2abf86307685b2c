package plot

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// wellFormed fails t unless svg parses as XML from start to end.
func wellFormed(t *testing.T, svg string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
	}
}

func TestBars(t *testing.T) {
	tests := []struct {
		name   string
		groups []Group
		want   []string
	}{
		{"empty", nil, []string{"<svg"}},
		{"escapes labels", []Group{{Title: "a < b", Bars: []Bar{{Label: "curl | tar & co", Value: 1, Min: 0.5, Max: 2}}}},
			[]string{"a &lt; b", "curl | tar &amp; co", "stroke="}},
		{"highlight", []Group{{Title: "g", Bars: []Bar{{Label: "strata", Value: 1, Highlight: true}, {Label: "podman", Value: 2}}}},
			[]string{accent, palette[0]}},
		{"zero and NaN values", []Group{{Title: "g", Bars: []Bar{{Label: "z", Value: 0}, {Label: "n", Value: math.NaN()}}}},
			[]string{`<text`}},
		{"formatted value", []Group{{Title: "g", Bars: []Bar{{Label: "x", Value: 0.0123, ValueFormatted: "12.3 ms"}}}},
			[]string{"12.3 ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Bars(&buf, "title", "seconds", tt.groups); err != nil {
				t.Fatalf("Bars = %v", err)
			}
			wellFormed(t, buf.String())
			if strings.Contains(buf.String(), "NaN") {
				t.Errorf("Bars wrote NaN into the SVG:\n%s", buf.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("Bars output lacks %q", w)
				}
			}
		})
	}
}

func TestLines(t *testing.T) {
	tests := []struct {
		name   string
		logX   bool
		series []Series
		want   []string
	}{
		{"empty", false, nil, []string{"<svg"}},
		{"one point", false, []Series{{Name: "a", X: []float64{1}, Y: []float64{2}}}, []string{"<circle"}},
		{"log x", true, []Series{{Name: "strata", X: []float64{1, 10, 50, 120}, Y: []float64{0.1, 0.2, 0.4, 0.9}, Highlight: true}},
			[]string{">120<", accent}},
		{"dashed ideal", false, []Series{{Name: "ideal", X: []float64{1, 2}, Y: []float64{1, 2}, Dashed: true}}, []string{"stroke-dasharray"}},
		{"mismatched lengths", false, []Series{{Name: "m", X: []float64{1, 2, 3}, Y: []float64{1}}}, []string{"<path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Lines(&buf, "title", "x", "y", tt.logX, tt.series); err != nil {
				t.Fatalf("Lines = %v", err)
			}
			wellFormed(t, buf.String())
			if strings.Contains(buf.String(), "NaN") || strings.Contains(buf.String(), "Inf") {
				t.Errorf("Lines wrote NaN or Inf into the SVG:\n%s", buf.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("Lines output lacks %q", w)
				}
			}
		})
	}
}

func TestNiceCeil(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0.7, 0.8}, {1, 1}, {1.3, 1.5}, {2.2, 2.5}, {3, 3}, {3.5, 4}, {7, 8}, {9, 10}, {0.012, 0.012}, {0.013, 0.015}, {253, 300},
	}
	for _, tt := range tests {
		if got := niceCeil(tt.in); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("niceCeil(%g) = %g, want %g", tt.in, got, tt.want)
		}
	}
}
