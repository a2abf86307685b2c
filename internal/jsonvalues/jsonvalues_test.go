package jsonvalues

import (
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`{}`, 1},
		{`[1,2,3]`, 3},
		{`{"a":[{},{}],"b":"x"}`, 6},
		{`{"a":"{[,]}"}`, 1},
		{`{"a":"\"{[,"}`, 1},
		{`{"a":"\\","b":1}`, 2},
		// An empty object as a member's value counts with its member.
		{`{"80/tcp":{},"53/udp":{}}`, 2},
		{`{"a": { } ,"b":{ "c":1}}`, 3},
		{`{"a":{"b":{}}}`, 2},
		{`{"a":{`, 2},
		{`{"a":{"}":1}}`, 2},
		// Not a member's value: still one each.
		{`[{},{}]`, 4},
		{`{"a":[{}]}`, 3},
	}
	for _, tt := range tests {
		if got := Count([]byte(tt.in)); got != tt.want {
			t.Errorf("Count(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestMaxAdmitsEveryPort: a config exposing every tcp and udp port, with room to spare, is
// within Max, and the same members with values that are not empty are not.
func TestMaxAdmitsEveryPort(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"config":{"ExposedPorts":{`)
	for _, proto := range []string{"tcp", "udp"} {
		for p := 1; p <= 65535; p++ {
			if proto == "udp" || p > 1 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + strings.Repeat("9", 5) + "/" + proto + `":{}`)
		}
	}
	b.WriteString(`}}}`)
	if n := Count([]byte(b.String())); n > Max-60000 {
		t.Errorf("every tcp and udp port counts %d, want at most %d", n, Max-60000)
	}
	full := strings.ReplaceAll(b.String(), `:{}`, `:{"a":1}`)
	if n := Count([]byte(full)); n <= Max {
		t.Errorf("131070 members of non-empty objects count %d, within Max %d", n, Max)
	}
}
