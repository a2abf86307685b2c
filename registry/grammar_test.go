package registry

import (
	"regexp"
	"strings"
	"testing"
)

// The regular expressions the matchers in grammar.go replace, as the oracle.
var (
	oracleDomainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	oracleDomainName      = oracleDomainComponent + `(?:\.` + oracleDomainComponent + `)*`
	oracleDomain          = regexp.MustCompile(`^(?:` + oracleDomainName + `|\[(?:[a-fA-F0-9:]+)\])(?::[0-9]+)?$`)
	oraclePathComponent   = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	oraclePath            = regexp.MustCompile(`^` + oraclePathComponent + `(?:/` + oraclePathComponent + `)*$`)
	oraclePathAnyCase     = regexp.MustCompile(`^(?i:` + oraclePathComponent + `(?:/` + oraclePathComponent + `)*)$`)
	oracleTag             = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	oracleDigest          = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
	oracleHex64           = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// checkGrammar compares every matcher with its regular expression on s.
func checkGrammar(t *testing.T, s string) {
	t.Helper()
	for _, c := range []struct {
		name string
		got  bool
		re   *regexp.Regexp
	}{
		{"domain", matchDomain(s), oracleDomain},
		{"path", matchPath(s, false), oraclePath},
		{"path any case", matchPath(s, true), oraclePathAnyCase},
		{"tag", matchTag(s), oracleTag},
		{"digest", matchDigest(s), oracleDigest},
		{"hex64", matchHex64(s), oracleHex64},
	} {
		if want := c.re.MatchString(s); c.got != want {
			t.Errorf("%s matcher(%q) = %v, the regular expression says %v", c.name, s, c.got, want)
		}
	}
}

var grammarCases = []string{
	"", "a", "A", "-", ".", "_", "__", "a.b", "a..b", "a_b", "a__b", "a___b", "a-b", "a--b", "a-.b", "a._b",
	"a/b", "a//b", "/a", "a/", "library/alpine", "Library/Alpine", "a\u212ab", "\u017f", "a\u212a", "é",
	"localhost", "localhost:5000", "localhost:", ":5000", "127.0.0.1:5000", "[::1]", "[::1]:5000", "[]", "[::1",
	"[::1]:", "[g::1]", "a-.com", "-a.com", "a.com-", "a.b.c:1:2", "docker.io", "UPPER.case", "a_b.com",
	"latest", "v1.0-rc_1", ".hidden", "_x", strings.Repeat("t", 128), strings.Repeat("t", 129),
	"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("A", 32), "sha256:" + strings.Repeat("a", 31),
	"sha256+b64u:" + strings.Repeat("0", 40), "sha256:", ":" + strings.Repeat("a", 32), "1sha:" + strings.Repeat("a", 32),
	"a-:" + strings.Repeat("a", 32), "a.b:" + strings.Repeat("a", 32) + ":", strings.Repeat("a", 64), strings.Repeat("A", 64),
	strings.Repeat("0", 63), "a\x00b", "a b", "a\nb",
}

func TestGrammarMatchesRegexps(t *testing.T) {
	for _, s := range grammarCases {
		checkGrammar(t, s)
	}
}

func FuzzGrammarMatchesRegexps(f *testing.F) {
	for _, s := range grammarCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkGrammar(t, s) })
}

func TestGrammarEveryRune(t *testing.T) {
	// Case folding (?i:…) reaches beyond ASCII; try every rune in a path and a domain.
	for r := rune(0); r <= 0x10ffff; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		s := "a" + string(r) + "b"
		if matchPath(s, true) != oraclePathAnyCase.MatchString(s) || matchPath(s, false) != oraclePath.MatchString(s) ||
			matchDomain(s) != oracleDomain.MatchString(s) || matchTag(s) != oracleTag.MatchString(s) {
			t.Errorf("matchers disagree with the regular expressions on %q (U+%04X)", s, r)
		}
	}
}
