// Package plot draws the benchmark charts of docs/benchmarks.md as plain SVG: horizontal bars
// with min–max whiskers, and lines over a numeric x axis. It depends on nothing but fmt, so
// the plots regenerate anywhere the benchmarks run.
package plot

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Bar is one bar: the median, and the range drawn as a whisker (Min == Max hides it).
type Bar struct {
	Label          string
	Value          float64
	Min, Max       float64
	Highlight      bool   // strata's bars are drawn in the accent colour
	ValueFormatted string // shown right of the bar; empty prints Value with %.3g
}

// Group is a titled run of bars sharing one scale with the other groups of the chart.
type Group struct {
	Title string
	Bars  []Bar
}

// Series is one line of a line chart; X and Y have the same length.
type Series struct {
	Name      string
	X, Y      []float64
	Highlight bool
	Dashed    bool // for ideals and baselines
}

const (
	width      = 760
	labelWidth = 230
	rowHeight  = 20
	accent     = "#d9480f"
	ink        = "#333333"
	muted      = "#868e96"
)

var palette = []string{"#1c7ed6", "#37b24d", "#7048e8", "#f59f00", "#0ca678", "#e64980", "#495057"}

// Bars writes a horizontal bar chart: title, then each group with its bars, all on one linear
// scale from zero that fits the largest whisker.
func Bars(w io.Writer, title, unit string, groups []Group) error {
	rows := 0
	maxV := 0.0
	for gi := range groups {
		g := &groups[gi]
		g.Bars = append([]Bar(nil), g.Bars...)
		rows += len(g.Bars) + 1
		for i := range g.Bars {
			b := &g.Bars[i]
			b.Value, b.Min, b.Max = finite(b.Value), finite(b.Min), finite(b.Max)
			maxV = max(maxV, b.Value, b.Max)
		}
	}
	if maxV <= 0 || math.IsNaN(maxV) || math.IsInf(maxV, 0) {
		maxV = 1
	}
	height := 50 + rows*rowHeight + 30
	plotW := float64(width - labelWidth - 90)
	scale := func(v float64) float64 { return plotW * v / maxV }
	var sb strings.Builder
	header(&sb, height, title)
	y := 45
	for _, g := range groups {
		fmt.Fprintf(&sb, `<text x="10" y="%d" font-weight="bold" fill="%s">%s</text>`+"\n", y+14, ink, esc(g.Title))
		y += rowHeight
		for _, b := range g.Bars {
			color := palette[0]
			if b.Highlight {
				color = accent
			}
			fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="end" fill="%s">%s</text>`+"\n", labelWidth-8, y+14, ink, esc(b.Label))
			fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelWidth, y+3, scale(b.Value), rowHeight-6, color)
			if b.Max > b.Min {
				cy := y + rowHeight/2
				fmt.Fprintf(&sb, `<path d="M%.1f %dH%.1fM%.1f %dv8M%.1f %dv8" stroke="%s" fill="none"/>`+"\n",
					labelWidth+scale(b.Min), cy, labelWidth+scale(b.Max), labelWidth+scale(b.Min), cy-4, labelWidth+scale(b.Max), cy-4, ink)
			}
			text := b.ValueFormatted
			if text == "" {
				text = fmt.Sprintf("%.3g", b.Value)
			}
			fmt.Fprintf(&sb, `<text x="%.1f" y="%d" fill="%s">%s</text>`+"\n", labelWidth+max(scale(b.Value), scale(b.Max))+6, y+14, muted, esc(text))
			y += rowHeight
		}
	}
	fmt.Fprintf(&sb, `<text x="%d" y="%d" fill="%s">%s; bar: median, whisker: min–max</text>`+"\n", labelWidth, y+20, muted, esc(unit))
	sb.WriteString("</svg>\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// Lines writes a line chart over a linear x axis (or log2 when logX), y from zero.
func Lines(w io.Writer, title, xLabel, yLabel string, logX bool, series []Series) error {
	const height, left, right, top, bottom = 380, 70, 240, 45, 50
	minX, maxX, maxY := math.Inf(1), math.Inf(-1), 0.0
	series = cleanSeries(series)
	for _, s := range series {
		for i := range s.X {
			x := s.X[i]
			if logX {
				x = math.Log2(max(x, 1))
			}
			minX, maxX, maxY = min(minX, x), max(maxX, x), max(maxY, s.Y[i])
		}
	}
	if math.IsInf(minX, 0) || maxX == minX {
		minX, maxX = 0, max(maxX, 1)
	}
	if maxY <= 0 {
		maxY = 1
	}
	maxY = niceCeil(maxY)
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	px := func(x float64) float64 {
		if logX {
			x = math.Log2(max(x, 1))
		}
		return left + pw*(x-minX)/(maxX-minX)
	}
	py := func(y float64) float64 { return top + ph - ph*y/maxY }
	var sb strings.Builder
	header(&sb, height, title)
	fmt.Fprintf(&sb, `<path d="M%d %dV%dH%d" stroke="%s" fill="none"/>`+"\n", left, top, height-bottom, width-right, ink)
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		fmt.Fprintf(&sb, `<text x="%d" y="%.1f" text-anchor="end" fill="%s">%.3g</text>`+"\n", left-6, py(v)+4, muted, v)
		fmt.Fprintf(&sb, `<path d="M%d %.1fH%d" stroke="#e9ecef"/>`+"\n", left+1, py(v), width-right)
	}
	ticks := map[float64]bool{}
	for _, s := range series {
		for _, x := range s.X {
			if !ticks[x] {
				ticks[x] = true
				fmt.Fprintf(&sb, `<text x="%.1f" y="%d" text-anchor="middle" fill="%s">%g</text>`+"\n", px(x), height-bottom+16, muted, x)
			}
		}
	}
	fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", left+int(pw)/2, height-12, ink, esc(xLabel))
	fmt.Fprintf(&sb, `<text x="14" y="%d" fill="%s" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`+"\n", top+int(ph)/2, ink, top+int(ph)/2, esc(yLabel))
	for i, s := range series {
		color := palette[i%len(palette)]
		if s.Highlight {
			color = accent
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="5 4"`
		}
		var d strings.Builder
		for j := range s.X {
			cmd := "L"
			if j == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f %.1f", cmd, px(s.X[j]), py(s.Y[j]))
			fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n", px(s.X[j]), py(s.Y[j]), color)
		}
		fmt.Fprintf(&sb, `<path d="%s" stroke="%s" stroke-width="2" fill="none"%s/>`+"\n", d.String(), color, dash)
		ly := top + 10 + i*18
		fmt.Fprintf(&sb, `<path d="M%d %dh18" stroke="%s" stroke-width="2"%s/>`+"\n", width-right+12, ly, color, dash)
		fmt.Fprintf(&sb, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", width-right+36, ly+4, ink, esc(s.Name))
	}
	sb.WriteString("</svg>\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

func header(sb *strings.Builder, height int, title string) {
	fmt.Fprintf(sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(sb, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(sb, `<text x="10" y="22" font-size="15" font-weight="bold" fill="%s">%s</text>`+"\n", ink, esc(title))
}

// niceCeil rounds v up to a round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of
// ten), so the axis labels are round and the plot uses most of its height.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// finite maps NaN, infinities and negatives to zero: a chart shows a missing bar, never "NaN".
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// cleanSeries copies the series keeping only points with both coordinates finite and
// non-negative, and only as many as both slices have.
func cleanSeries(in []Series) []Series {
	out := make([]Series, len(in))
	for i, s := range in {
		out[i] = s
		out[i].X, out[i].Y = nil, nil
		for j := 0; j < len(s.X) && j < len(s.Y); j++ {
			if finite(s.X[j]) == s.X[j] && finite(s.Y[j]) == s.Y[j] {
				out[i].X = append(out[i].X, s.X[j])
				out[i].Y = append(out[i].Y, s.Y[j])
			}
		}
	}
	return out
}

func esc(s string) string { return html.EscapeString(s) }
