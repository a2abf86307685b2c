package events

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzTail writes a hostile events.log in two appends (a torn write between them) and reads
// it with a Tail: it gives the events of the complete lines Parse takes, in order, and no
// other, whatever garbage, long lines or split lines the file holds; and it holds no more
// than a line between polls.
func FuzzTail(f *testing.F) {
	line := func(action string) string {
		return `{"Type":"container","Action":"` + action + `","Actor":{"ID":"x","Attributes":{"name":"web"}},"scope":"local","time":1,"timeNano":1000000000}` + "\n"
	}
	f.Add([]byte(line("start")+line("die")), uint16(10))
	f.Add([]byte(line("create")+"garbage\n\n{\"Type\":\"\"}\n"+line("start")), uint16(200))
	f.Add([]byte(`{"Type":"image","Action":"pull","timeNano":-1}`+"\n"+line("x")[:40]), uint16(0))
	f.Add([]byte(strings.Repeat("a", MaxLine+10)+"\n"+line("after-long")), uint16(MaxLine/2))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		path := filepath.Join(dir, File)
		k := min(int(cut), len(data))
		if err := os.WriteFile(path, data[:k], 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		tail := NewTail(r)
		var got []Message
		emit := func(m Message) bool { got = append(got, m); return true }
		if err := tail.Poll(emit); err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Write(data[k:])
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := tail.Poll(emit); err != nil {
			t.Fatal(err)
		}
		if len(tail.pending) > MaxLine+len(tail.chunk) {
			t.Errorf("the tail holds %d bytes between polls", len(tail.pending))
		}
		var want []Message
		lines := bytes.Split(data, []byte("\n"))
		for _, l := range lines[:len(lines)-1] { // the last has no newline yet
			if m, ok := Parse(l); ok {
				want = append(want, m)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Tail of %q (cut at %d) = %+v, want %+v", data, k, got, want)
		}
	})
}
