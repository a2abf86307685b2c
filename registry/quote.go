package registry

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxQuoted is how much of a value the user gave an error quotes back, in bytes, as
// cmd/strata's quoteValue cuts it.
const maxQuoted = 64

// quoteValue is s quoted with Go escapes, as %q writes it (control characters and bytes that
// are not UTF-8 escaped), cut to maxQuoted bytes with its length told.
func quoteValue(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}
