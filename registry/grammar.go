package registry

import "strings"

// Matchers for the reference grammar (reference.go), written out instead of compiled from
// regular expressions: compiling those took about a millisecond at every strata start, the
// package's init, and every command pays it. grammar_test.go checks each against the regular
// expression it replaces, on tables and under fuzzing.

// isAlnum reports an ASCII letter or digit; lower only when lowerOnly.
func isAlnum(c byte, lowerOnly bool) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || !lowerOnly && c >= 'A' && c <= 'Z'
}

// isWord is \w: [0-9A-Za-z_].
func isWord(c byte) bool { return isAlnum(c, false) || c == '_' }

// isHexDigit is [0-9a-fA-F].
func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// matchDomain is ^(?:domainName|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$.
func matchDomain(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		inner := s[1:end]
		if inner == "" || strings.IndexFunc(inner, func(r rune) bool { return r > 0x7f || !isHexDigit(byte(r)) && r != ':' }) >= 0 {
			return false
		}
		host, port = "", s[end+1:]
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i:]
	}
	if port != "" {
		if len(port) < 2 || port[0] != ':' || strings.IndexFunc(port[1:], func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			return false
		}
	}
	if strings.HasPrefix(s, "[") {
		return true
	}
	for _, c := range strings.Split(host, ".") {
		if c == "" || !isAlnum(c[0], false) || !isAlnum(c[len(c)-1], false) {
			return false
		}
		for i := 0; i < len(c); i++ {
			if !isAlnum(c[i], false) && c[i] != '-' {
				return false
			}
		}
	}
	return true
}

// matchPath is ^pathComponent(?:/pathComponent)*$ with pathComponent
// [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*; anyCase also takes what (?i:…) adds: upper case,
// and the two non-ASCII runes that fold to k and s (U+212A KELVIN SIGN, U+017F LONG S).
func matchPath(s string, anyCase bool) bool {
	for _, comp := range strings.Split(s, "/") {
		if !matchPathComponent(comp, anyCase) {
			return false
		}
	}
	return true
}

func matchPathComponent(c string, anyCase bool) bool {
	// Alternating runs: alphanumerics, then a separator ("." "_" "__" or dashes), and so on,
	// starting and ending with alphanumerics.
	sep := "" // the separator run being read; "" while in an alphanumeric run
	inAlnum := false
	for i := 0; i < len(c); {
		n, alnum := pathRune(c[i:], anyCase)
		switch {
		case alnum:
			if sep != "" && !validSeparator(sep) {
				return false
			}
			sep, inAlnum = "", true
		case n == 1 && (c[i] == '.' || c[i] == '_' || c[i] == '-'):
			if !inAlnum && sep == "" {
				return false // a component cannot start with a separator
			}
			sep += c[i : i+1]
			inAlnum = false
		default:
			return false
		}
		i += n
	}
	return inAlnum
}

// pathRune reads one rune of a path component: its length and whether it is alphanumeric.
func pathRune(s string, anyCase bool) (int, bool) {
	if isAlnum(s[0], !anyCase) {
		return 1, true
	}
	if anyCase && (strings.HasPrefix(s, "\u212a") || strings.HasPrefix(s, "\u017f")) {
		if strings.HasPrefix(s, "\u212a") {
			return len("\u212a"), true
		}
		return len("\u017f"), true
	}
	return 1, false
}

func validSeparator(sep string) bool {
	return sep == "." || sep == "_" || sep == "__" || strings.Trim(sep, "-") == ""
}

// matchTag is ^[\w][\w.-]{0,127}$.
func matchTag(s string) bool {
	if len(s) == 0 || len(s) > 128 || !isWord(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWord(s[i]) && s[i] != '.' && s[i] != '-' {
			return false
		}
	}
	return true
}

// matchDigest is ^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$.
func matchDigest(s string) bool {
	algo, hex, ok := strings.Cut(s, ":")
	if !ok || len(hex) < 32 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if !isHexDigit(hex[i]) {
			return false
		}
	}
	startOfComponent := true
	for i := 0; i < len(algo); i++ {
		c := algo[i]
		switch {
		case startOfComponent:
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
			startOfComponent = false
		case c == '-' || c == '_' || c == '+' || c == '.':
			startOfComponent = true
		case !isAlnum(c, false):
			return false
		}
	}
	return !startOfComponent
}

// matchHex64 is ^[a-f0-9]{64}$.
func matchHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}
