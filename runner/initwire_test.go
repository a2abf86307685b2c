package runner

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/strata-run/strata/mount"
)

// fillAll sets every field reachable from v to a value of its own: strings, numbers and bools
// to non-zero values, slices and maps to two items, pointers to a new value. A field added to Spec that
// initwire.go does not carry then fails TestInitWireRoundTrip.
func fillAll(t *testing.T, v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", *n%7) + string(rune('a'+*n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-int64(*n) * 1000003)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n) * 1000003)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.25)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fillAll(t, v.Index(i), n)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(t, v.Elem(), n)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i < 2; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fillAll(t, k, n)
			fillAll(t, e, n)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				t.Fatalf("%s.%s is unexported: fillAll cannot set it", v.Type(), v.Type().Field(i).Name)
			}
			fillAll(t, v.Field(i), n)
		}
	default:
		t.Fatalf("fillAll: no value for a %s", v.Type())
	}
}

// TestInitWireRoundTrip: every field of the start message and of the go-ahead reads back as it
// was written, a nil list stays nil and an empty one empty, and the two messages share a stream
// without one reading into the other, however the stream splits them.
func TestInitWireRoundTrip(t *testing.T) {
	var full initStart
	n := 0
	fillAll(t, reflect.ValueOf(&full).Elem(), &n)
	empty := initStart{Spec: Spec{Args: []string{}, Root: []mount.Mount{}}}
	insns := make([]byte, 939*sockFilterSize)
	for i := range insns {
		insns[i] = byte(i * 7)
	}
	aheads := []goAhead{{Go: true, Seccomp: &seccompFilter{Insns: insns, Flags: 3}}, {Go: true}, {}}
	for _, start := range []initStart{full, {}, empty} {
		for _, ahead := range aheads {
			var wire bytes.Buffer
			if err := writeInitStart(&wire, start); err != nil {
				t.Fatal(err)
			}
			if err := writeGoAhead(&wire, ahead); err != nil {
				t.Fatal(err)
			}
			wire.WriteString("after")
			r := iotest.OneByteReader(&wire)
			gotStart, err := readInitStart(r)
			if err != nil || !reflect.DeepEqual(gotStart, start) {
				t.Fatalf("start message read back as %+v, %v\nwant %+v", gotStart, err, start)
			}
			gotAhead, err := readGoAhead(r)
			if err != nil || !reflect.DeepEqual(gotAhead, ahead) {
				t.Fatalf("go-ahead read back differs (%v)", err)
			}
			if rest, _ := io.ReadAll(r); string(rest) != "after" {
				t.Errorf("the messages consumed what followed them: %q left", rest)
			}
		}
	}
}

// TestInitWireMalformed: a truncated, padded, oversized or garbled message is an error, not a
// panic or a huge allocation.
func TestInitWireMalformed(t *testing.T) {
	var good bytes.Buffer
	var full initStart
	n := 0
	fillAll(t, reflect.ValueOf(&full).Elem(), &n)
	if err := writeInitStart(&good, full); err != nil {
		t.Fatal(err)
	}
	msg := good.Bytes()
	frame := func(payload []byte) []byte {
		return binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	}
	cases := map[string][]byte{
		"empty":           nil,
		"short length":    msg[:2],
		"truncated":       msg[:len(msg)-3],
		"padded":          append(append(frame(append(append([]byte{}, msg[4:]...), 0)), msg[4:]...), 0),
		"too long":        binary.BigEndian.AppendUint32(nil, maxStartMessage+1),
		"huge list":       append(frame([]byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0x0f}), 1, 2, 0xff, 0xff, 0xff, 0xff, 0x0f),
		"bad flag":        nil,
		"varint overflow": append(frame(bytes.Repeat([]byte{0xff}, 11)), bytes.Repeat([]byte{0xff}, 11)...),
	}
	// A flag of 2 where a bool goes: the go-ahead's first field.
	cases["bad flag"] = append(frame([]byte{2}), 2)
	for name, b := range cases {
		if _, err := readInitStart(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: start message accepted", name)
		}
		if _, err := readGoAhead(bytes.NewReader(b)); err == nil && name != "padded" {
			t.Errorf("%s: go-ahead accepted", name)
		}
	}
	for _, size := range []uint64{0, 3, uint64(maxFilterBytes + sockFilterSize)} {
		w := &wireWriter{}
		w.bool(true)
		w.bool(true)
		w.uint(0)
		w.uint(size)
		w.b = append(w.b, make([]byte, 16)...)
		if _, err := readGoAhead(bytes.NewReader(append(frame(w.b), w.b...))); !errors.Is(err, errInitWire) {
			t.Errorf("a filter of %d bytes: %v, want errInitWire", size, err)
		}
	}
}

// TestExecAnnouncement: the constant the init writes before exec is the JSON line the parent
// reads as initResult{Exec: true}.
func TestExecAnnouncement(t *testing.T) {
	b, err := json.Marshal(initResult{Exec: true})
	if err != nil {
		t.Fatal(err)
	}
	if execAnnouncement != string(b)+"\n" {
		t.Errorf("execAnnouncement = %q, want %q", execAnnouncement, string(b)+"\n")
	}
}

// FuzzInitWire: any bytes read as a start message or a go-ahead give an error or a message
// that survives being written and read again; nothing panics.
func FuzzInitWire(f *testing.F) {
	var full initStart
	n := 0
	fillAll(&testing.T{}, reflect.ValueOf(&full).Elem(), &n)
	for _, m := range []initStart{full, {}} {
		var b bytes.Buffer
		_ = writeInitStart(&b, m)
		f.Add(b.Bytes())
	}
	var b bytes.Buffer
	_ = writeGoAhead(&b, goAhead{Go: true, Seccomp: &seccompFilter{Insns: make([]byte, 16)}})
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		if m, err := readInitStart(bytes.NewReader(in)); err == nil {
			var out bytes.Buffer
			if err := writeInitStart(&out, m); err == nil {
				if m2, err := readInitStart(&out); err != nil || !reflect.DeepEqual(m, m2) {
					t.Errorf("start message %q changed on a second trip: %v", in, err)
				}
			}
		}
		if m, err := readGoAhead(bytes.NewReader(in)); err == nil {
			var out bytes.Buffer
			if err := writeGoAhead(&out, m); err == nil {
				if m2, err := readGoAhead(&out); err != nil || !reflect.DeepEqual(m, m2) {
					t.Errorf("go-ahead %q changed on a second trip: %v", in, err)
				}
			}
		}
	})
}
