package main

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

// TestStringArrayValueAsPflags: stringArrayVar's flag reads, prints, reports and shows in the
// help as pflag's StringArrayVar does, for the default, for values with commas and quotes, and
// for repeats.
func TestStringArrayValueAsPflags(t *testing.T) {
	for _, tc := range []struct {
		def  []string
		sets []string
	}{
		{nil, nil},
		{[]string{"a", "b,c"}, nil},
		{nil, []string{"x"}},
		{[]string{"dflt"}, []string{`say "hi"`, "a,b", "", " lead"}},
	} {
		var ours, theirs []string
		fo, ft := pflag.NewFlagSet("o", pflag.ContinueOnError), pflag.NewFlagSet("t", pflag.ContinueOnError)
		stringArrayVar(fo, &ours, "v", "", tc.def, "")
		ft.StringArrayVar(&theirs, "v", tc.def, "")
		for _, s := range tc.sets {
			_ = fo.Set("v", s)
			_ = ft.Set("v", s)
		}
		o, th := fo.Lookup("v"), ft.Lookup("v")
		if o.Value.String() != th.Value.String() || o.Value.Type() != th.Value.Type() {
			t.Errorf("%q %q: ours %q %q, pflag's %q %q", tc.def, tc.sets, o.Value.String(), o.Value.Type(), th.Value.String(), th.Value.Type())
		}
		if ou, tu := fo.FlagUsages(), ft.FlagUsages(); ou != tu {
			t.Errorf("%q %q: help of ours %q, of pflag's %q", tc.def, tc.sets, ou, tu)
		}
		og, _ := fo.GetStringArray("v")
		tg, _ := ft.GetStringArray("v")
		if !slices.Equal(ours, theirs) || !slices.Equal(og, tg) {
			t.Errorf("%q %q: ours %q (%q), pflag's %q (%q)", tc.def, tc.sets, ours, og, theirs, tg)
		}
		os, ts := o.Value.(pflag.SliceValue), th.Value.(pflag.SliceValue)
		_ = os.Append("z")
		_ = ts.Append("z")
		if !slices.Equal(os.GetSlice(), ts.GetSlice()) {
			t.Errorf("%q %q: after Append ours %q, pflag's %q", tc.def, tc.sets, os.GetSlice(), ts.GetSlice())
		}
	}
}
