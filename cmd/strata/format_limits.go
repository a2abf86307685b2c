package main

import (
	"fmt"
	"reflect"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// A --format template is a small program the user runs on strata's data, and text/template
// bounds neither its time nor its memory. maxFormatOutput bounds what it prints; these bound
// the rest, per rendering (one ps, images or inspect listing):
//
//   - maxFormatTime: a template can loop without printing ({{range 999999999999}}{{end}}, or a
//     {{define}}d template calling itself twice). ps, images and inspect do not watch their
//     context, so not even a signal stopped one.
//   - maxFormatValue: one string a function makes. Nested escapers ({{html (html (html .))}})
//     or a printf recursing on its result ({{template "x" (printf "%s%s" . .)}}) doubled
//     the memory at each step until the runtime died of it.
//   - maxFormatMade: all the strings the functions make, so that a recursion keeping a large
//     value alive at each of its levels stops too.
//
// Any listing strata prints stays far below each.
var (
	maxFormatTime  = 10 * time.Second
	maxFormatValue = maxFormatOutput
	maxFormatMade  = 512 << 20
)

// formatLimitError is what a template that goes past one of the limits fails with.
type formatLimitError string

func (e formatLimitError) Error() string { return string(e) }

// formatTick is the function every {{range}} turn and every call of a template calls first.
const formatTick = "strataFormatTick"

// formatBudget is what is left of one rendering's limits.
type formatBudget struct {
	flag     string // the flag the template was given with, which the errors name
	deadline time.Time
	made     int // bytes the functions have made so far
}

// tick fails once the rendering has run maxFormatTime.
func (b *formatBudget) tick() (string, error) {
	if time.Now().After(b.deadline) {
		return "", formatLimitError(fmt.Sprintf("%s: the template ran for more than %v", b.flag, maxFormatTime))
	}
	return "", nil
}

// check fails when a function is about to make a string of about n bytes, over
// maxFormatValue.
func (b *formatBudget) check(name string, n int) error {
	if n > maxFormatValue {
		return formatLimitError(fmt.Sprintf("%s: %s would make more than %d MiB", b.flag, name, maxFormatValue>>20))
	}
	return nil
}

// allow checks n bytes as check does and counts them: it fails once they take the
// rendering past maxFormatMade.
func (b *formatBudget) allow(name string, n int) error {
	if err := b.check(name, n); err != nil {
		return err
	}
	if b.made += n; b.made > maxFormatMade {
		return formatLimitError(fmt.Sprintf("%s: the template made more than %d MiB of strings", b.flag, maxFormatMade>>20))
	}
	return nil
}

// parseFormat parses a --format template with docker's functions and the builtins that make
// strings, each checking its size with the rendering's budget before making it, and with
// every {{range}} turn and every call of a template ({{define}}d ones may call themselves)
// first calling formatTick: text/template has no step limit or context of its own.
func parseFormat(text string) (*template.Template, error) {
	return parseBounded("format", "--format", templateFuncs, text)
}

// parseBounded parses text as parseFormat does, as a template named name with the functions
// base (docker's json, join, split, lower, upper, title, pad and truncate, as a template of
// the CLI or of the daemon has them), whose limit errors name flag.
func parseBounded(name, flag string, base template.FuncMap, text string) (*template.Template, error) {
	b := &formatBudget{flag: flag, deadline: time.Now().Add(maxFormatTime)}
	t, err := template.New(name).Funcs(base).Funcs(b.funcs(base)).Parse(text)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil && tt.Tree.Root != nil {
			tickLoops(tt.Tree.Root)
			prependTick(tt.Tree.Root)
		}
	}
	return t, nil
}

// funcs are the functions that make strings (text/template's builtins by the same names are
// replaced), each checking first what it is about to make. A size is estimated as the bytes
// of the arguments (valueSize), which the result of fmt, escaping or JSON may exceed by a
// small factor at most: the result is then counted exactly. base is the template's own
// functions, whose title and pad these call.
func (b *formatBudget) funcs(base template.FuncMap) template.FuncMap {
	// made counts s, the string a function made, after the fact.
	made := func(name, s string) (string, error) {
		if err := b.allow(name, len(s)); err != nil {
			return "", err
		}
		return s, nil
	}
	// printed checks the arguments fmt is to print, then fmt's result. A width or precision
	// pads up to fmt's own bound of 1e6 each.
	printed := func(name string, extra int, args []any, print func(...any) string) (string, error) {
		n := extra
		for _, a := range args {
			n += valueSize(reflect.ValueOf(a), 0) + 1
		}
		if err := b.check(name, n); err != nil {
			return "", err
		}
		return made(name, print(args...))
	}
	return template.FuncMap{
		formatTick: b.tick,
		"printf": func(format string, args ...any) (string, error) {
			return printed("printf", len(format)+strings.Count(format, "%")*1e6, args, func(a ...any) string { return fmt.Sprintf(format, a...) })
		},
		"print":    func(args ...any) (string, error) { return printed("print", 0, args, fmt.Sprint) },
		"println":  func(args ...any) (string, error) { return printed("println", 1, args, fmt.Sprintln) },
		"html":     func(args ...any) (string, error) { return printed("html", 0, args, template.HTMLEscaper) },
		"js":       func(args ...any) (string, error) { return printed("js", 0, args, template.JSEscaper) },
		"urlquery": func(args ...any) (string, error) { return printed("urlquery", 0, args, template.URLQueryEscaper) },
		"json": func(v any) (string, error) {
			if err := b.check("json", valueSize(reflect.ValueOf(v), 0)); err != nil {
				return "", err
			}
			s, err := templateJSON(v)
			if err != nil {
				return "", err
			}
			return made("json", s)
		},
		"join": func(elems []string, sep string) (string, error) {
			n := len(sep) * len(elems)
			for _, e := range elems {
				n += len(e)
			}
			if err := b.allow("join", n); err != nil {
				return "", err
			}
			return strings.Join(elems, sep), nil
		},
		// split's strings share s, but each takes a string header.
		"split": func(s, sep string) ([]string, error) {
			if err := b.allow("split", 16*(strings.Count(s, sep)+1)); err != nil {
				return nil, err
			}
			return strings.Split(s, sep), nil
		},
		// A rune changes case within 1.5 times its bytes; title makes a slice of 4-byte runes.
		"lower": func(s string) (string, error) { return cased("lower", s, 2, b, strings.ToLower) },
		"upper": func(s string) (string, error) { return cased("upper", s, 2, b, strings.ToUpper) },
		"title": func(s string) (string, error) {
			return cased("title", s, 4, b, base["title"].(func(string) string))
		},
		// base's truncate makes no string: it returns a part of s.
		"pad": func(s string, before, after int) (string, error) {
			if err := b.allow("pad", len(s)+2*maxPad); err != nil {
				return "", err
			}
			return base["pad"].(func(string, int, int) string)(s, min(max(before, 0), maxPad), min(max(after, 0), maxPad)), nil
		},
	}
}

// cased is f(s), a case mapping, counted as factor times the bytes of s.
func cased(name, s string, factor int, b *formatBudget, f func(string) string) (string, error) {
	if err := b.allow(name, factor*len(s)); err != nil {
		return "", err
	}
	return f(s), nil
}

// valueSize estimates the bytes fmt or encoding/json print for v: its strings' bytes, a
// struct's field names, and a little for each number, element and punctuation. It stops
// counting past maxFormatValue.
func valueSize(v reflect.Value, depth int) int {
	if depth > 32 {
		return maxFormatValue + 1 // deeper than strata's data goes: a cycle
	}
	switch v.Kind() {
	case reflect.Invalid:
		return 5
	case reflect.String:
		return v.Len()
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 5
		}
		return valueSize(v.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		n := 2
		for i := 0; i < v.Len() && n <= maxFormatValue; i++ {
			n += valueSize(v.Index(i), depth+1) + 1
		}
		return n
	case reflect.Map:
		n := 2
		for it := v.MapRange(); it.Next() && n <= maxFormatValue; {
			n += valueSize(it.Key(), depth+1) + valueSize(it.Value(), depth+1) + 2
		}
		return n
	case reflect.Struct:
		n := 2
		for i := 0; i < v.NumField() && n <= maxFormatValue; i++ {
			n += len(v.Type().Field(i).Name) + 4 + valueSize(v.Field(i), depth+1)
		}
		return n
	}
	return 32 // a number, a bool, a func
}

// tickLoops prepends a formatTick action to the body of every {{range}} under n.
func tickLoops(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			tickLoops(c)
		}
	case *parse.IfNode:
		tickLoops(n.List)
		tickLoops(n.ElseList)
	case *parse.WithNode:
		tickLoops(n.List)
		tickLoops(n.ElseList)
	case *parse.RangeNode:
		tickLoops(n.List)
		tickLoops(n.ElseList)
		prependTick(n.List)
	}
}

// prependTick makes {{strataFormatTick}} the first action of list; it prints nothing.
func prependTick(list *parse.ListNode) {
	if list == nil {
		return
	}
	call := &parse.CommandNode{NodeType: parse.NodeCommand, Args: []parse.Node{&parse.IdentifierNode{NodeType: parse.NodeIdentifier, Ident: formatTick}}}
	action := &parse.ActionNode{NodeType: parse.NodeAction, Pipe: &parse.PipeNode{NodeType: parse.NodePipe, Cmds: []*parse.CommandNode{call}}}
	list.Nodes = append([]parse.Node{action}, list.Nodes...)
}
