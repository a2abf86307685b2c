// Package jsonvalues bounds what parsing a manifest, index or config may cost. Parsed, a JSON
// value costs far more than its few bytes: a 4 MiB manifest of 1.4 million empty layer
// descriptors took 1 GB and seconds to parse, a 16 MiB config of 5 million empty history
// entries 2.4 GB. The registry client counts before it parses what it fetches, the store
// before it parses what it holds (`images` parses every image's config).
package jsonvalues

// Max is how many values (as Count counts them) a manifest, index or config may hold. Real
// ones have a few thousand, but docker accepts a config that exposes every port, 65535 tcp
// and 65535 udp ones ("EXPOSE 1-65535 1-65535/udp"), each a member of ExposedPorts: this
// admits those 131070 and some 65,000 other values, some 98,000 layers, manifests or history
// entries.
const Max = 3 << 16

// Count counts the objects, arrays and commas of b outside strings: about one for each value
// it holds. An empty object that is a member's value ("80/tcp":{} in ExposedPorts or Volumes)
// is counted with its member, by the comma before it: every value but the first of its parent
// still counts one, so a JSON of Count n holds at most 2n values. It does not check that b is
// JSON; the parser that follows does.
func Count(b []byte) int {
	n := 0
	inString, escaped := false, false
	// prev is the last byte outside strings and white space ('"' for a string); member is
	// set by a '{' after a ':', counted only once something but its '}' follows.
	prev, member := byte(0), false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
			continue
		case inString:
			if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		if member {
			member = false
			if c == '}' {
				prev = c
				continue
			}
			n++
		}
		switch c {
		case '"':
			inString = true
		case '{':
			if prev == ':' {
				member = true
			} else {
				n++
			}
		case '[', ',':
			n++
		}
		prev = c
	}
	if member {
		n++
	}
	return n
}
