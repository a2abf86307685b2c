package main

import (
	"bytes"
	"encoding/csv"
	"strings"

	"github.com/spf13/pflag"
)

// stringArrayVar is pflag's StringArrayVarP with a cheaper String for an empty value: pflag
// calls String on every flag it defines (the default help shows), and its stringArray writes
// even [] through a csv.Writer with a 4 KiB buffer of its own. A run defines some 30 such
// flags, and each buffer was a page touched for one byte on every start.
func stringArrayVar(f *pflag.FlagSet, p *[]string, name, short string, value []string, usage string) {
	*p = value
	f.VarP(&stringArrayValue{value: p}, name, short, usage)
	if len(value) == 0 {
		// pflag's help hides a default of "[]" for its own slice types only; "" it hides
		// for any. DefValue serves nothing but the help.
		f.Lookup(name).DefValue = ""
	}
}

// stringArrayValue behaves as pflag's stringArray value: the same Type, Set, String and
// SliceValue methods, so help, completion and GetStringArray see no difference.
type stringArrayValue struct {
	value   *[]string
	changed bool
}

// Set replaces the default with the first value given, and appends each later one.
func (s *stringArrayValue) Set(val string) error {
	if !s.changed {
		*s.value = []string{val}
		s.changed = true
	} else {
		*s.value = append(*s.value, val)
	}
	return nil
}

func (s *stringArrayValue) Append(val string) error {
	*s.value = append(*s.value, val)
	return nil
}

func (s *stringArrayValue) Replace(val []string) error {
	*s.value = append([]string{}, val...)
	return nil
}

func (s *stringArrayValue) GetSlice() []string {
	return append([]string{}, *s.value...)
}

func (s *stringArrayValue) Type() string { return "stringArray" }

// String is "[" + the values as one CSV record + "]", as pflag writes it.
func (s *stringArrayValue) String() string {
	if len(*s.value) == 0 {
		return "[]"
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(*s.value)
	w.Flush()
	return "[" + strings.TrimSuffix(b.String(), "\n") + "]"
}
