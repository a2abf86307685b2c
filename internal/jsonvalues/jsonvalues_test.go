package jsonvalues

import "testing"

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
	}
	for _, tt := range tests {
		if got := Count([]byte(tt.in)); got != tt.want {
			t.Errorf("Count(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
