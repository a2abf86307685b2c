// Package jsonvalues bounds what parsing a manifest, index or config may cost. Parsed, a JSON
// value costs far more than its few bytes: a 4 MiB manifest of 1.4 million empty layer
// descriptors took 1 GB and seconds to parse, a 16 MiB config of 5 million empty history
// entries 2.4 GB. The registry client counts before it parses what it fetches, the store
// before it parses what it holds (`images` parses every image's config).
package jsonvalues

// Max is how many values a manifest, index or config may hold. Real ones have a few thousand;
// this is some 65,000 layers, manifests or history entries.
const Max = 1 << 17

// Count counts the objects, arrays and commas of b outside strings: about one for each value
// it holds. It does not check that b is JSON; the parser that follows does.
func Count(b []byte) int {
	n := 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[' || c == ',':
			n++
		}
	}
	return n
}
