// Package quote quotes back, in an error, what a user, an image or a registry gave: escaped
// as Go's %q (control characters and bytes that are not UTF-8 cannot drive the terminal) and
// cut, so that a 100 KB argument does not come back as a 100 KB line.
package quote

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"strconv"
	"unicode/utf8"
)

// MaxValue is how much of a value an error quotes back, in bytes.
const MaxValue = 64

// Value is s quoted, cut to MaxValue bytes with its length told.
func Value(s string) string { return Cut(s, MaxValue) }

// Cut is s quoted, cut to max bytes (never inside a rune) with its length told.
func Cut(s string, max int) string {
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// Regexp is err, regexp.Compile's error for an expression a user gave, with the expression
// quoted as Value quotes it: regexp's own message repeats it whole between backquotes, control
// characters and all, so `ps --filter 'name=(<ESC>[2J'` cleared the terminal and a long one
// came back whole. Other errors are returned as they are.
func Regexp(err error) error {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return err
	}
	return &regexpError{se}
}

type regexpError struct{ err *syntax.Error }

func (e *regexpError) Error() string {
	return "error parsing regexp: " + string(e.err.Code) + ": " + Value(e.err.Expr)
}

func (e *regexpError) Unwrap() error { return e.err }
