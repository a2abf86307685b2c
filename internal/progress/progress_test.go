package progress

import (
	"bufio"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
)

var (
	layerA = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("3f1a2b9c04de", 5) + "abcd"}
	layerB = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0123456789ab", 5) + "cdef"}
)

// pull is the events of a pull in which layer A downloads (with a dropped connection) and is
// unpacked while it downloads, and layer B is already stored.
var pull = []cache.Event{
	{Digest: layerA, Kind: cache.Waiting, Total: 40_100_000},
	{Digest: layerB, Kind: cache.Waiting, Total: 2_000},
	{Digest: layerB, Kind: cache.Exists, Current: 2_000, Total: 2_000},
	{Digest: layerA, Kind: cache.Downloading, Current: 1_000_000, Total: 40_100_000},
	{Digest: layerA, Kind: cache.Downloading, Current: 12_300_000, Total: 40_100_000},
	{Digest: layerA, Kind: cache.Resuming, Current: 12_300_000, Total: 40_100_000, Err: errors.New("connection\nreset")},
	{Digest: layerA, Kind: cache.Downloading, Current: 40_100_000, Total: 40_100_000},
	{Digest: layerA, Kind: cache.Verifying, Current: 40_100_000, Total: 40_100_000},
	{Digest: layerA, Kind: cache.Extracting, Current: 40_100_000, Total: 40_100_000},
	{Digest: layerA, Kind: cache.Done, Current: 40_100_000, Total: 40_100_000},
}

func TestPlain(t *testing.T) {
	var b strings.Builder
	r := New(&b, Plain)
	for _, e := range pull {
		r.Event(e)
	}
	r.Close()
	want := []string{
		"3f1a2b9c04de: Waiting",
		"0123456789ab: Waiting",
		"0123456789ab: Already exists",
		"3f1a2b9c04de: Downloading 40.1MB",
		"3f1a2b9c04de: Resuming at 12.3MB/40.1MB after: connection reset",
		"3f1a2b9c04de: Downloading 40.1MB",
		"3f1a2b9c04de: Verifying Checksum",
		"3f1a2b9c04de: Extracting",
		"3f1a2b9c04de: Pull complete",
	}
	if got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plain output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPlainDownloadWithoutExtract(t *testing.T) {
	var b strings.Builder
	r := New(&b, "")
	if r.Mode() != Plain {
		t.Errorf("New(strings.Builder, auto).Mode() = %q, want %q: not a terminal", r.Mode(), Plain)
	}
	r.Event(cache.Event{Digest: layerA, Kind: cache.Downloading, Current: 5, Total: 10})
	r.Event(cache.Event{Digest: layerA, Kind: cache.Done, Current: 10, Total: 10})
	r.Event(cache.Event{Digest: layerB, Kind: cache.Failed, Err: errors.New("boom")})
	want := "3f1a2b9c04de: Downloading 10B\n3f1a2b9c04de: Download complete\n0123456789ab: Failed: boom\n"
	if b.String() != want {
		t.Errorf("plain output = %q, want %q", b.String(), want)
	}
}

func TestJSON(t *testing.T) {
	var b strings.Builder
	r := New(&b, JSON)
	for _, e := range pull {
		r.Event(e)
	}
	r.Close()
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	i := 0
	for ; sc.Scan(); i++ {
		var got jsonEvent
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d %q is not JSON: %v", i, sc.Text(), err)
		}
		if i >= len(pull) {
			t.Fatalf("more lines than events: %q", sc.Text())
		}
		e := pull[i]
		want := jsonEvent{Digest: e.Digest.String(), Status: e.Kind.String(), Current: e.Current, Total: e.Total}
		if e.Err != nil {
			want.Error = e.Err.Error()
		}
		if got != want {
			t.Errorf("line %d = %+v, want %+v", i, got, want)
		}
	}
	if i != len(pull) {
		t.Errorf("JSON output has %d lines, want one per event (%d)", i, len(pull))
	}
}

func TestTTY(t *testing.T) {
	var b strings.Builder
	r := New(&b, TTY)
	clock := time.Unix(0, 0)
	r.now = func() time.Time { return clock }
	r.Event(cache.Event{Digest: layerA, Kind: cache.Waiting, Total: 40_100_000})
	r.Event(cache.Event{Digest: layerB, Kind: cache.Exists, Current: 2_000, Total: 2_000})
	r.Event(cache.Event{Digest: layerA, Kind: cache.Downloading, Current: 0, Total: 40_100_000})
	clock = clock.Add(2 * time.Second)
	b.Reset()
	r.Event(cache.Event{Digest: layerA, Kind: cache.Downloading, Current: 16_200_000, Total: 40_100_000})
	// 16.2MB in 2s, 10 of 25 bar cells.
	wantFrame := "\x1b[2A" +
		"\r\x1b[2K3f1a2b9c04de: Downloading [=========>               ] 16.2MB/40.1MB 8.1MB/s\n" +
		"\r\x1b[2K0123456789ab: Already exists\n"
	if b.String() != wantFrame {
		t.Errorf("tty frame = %q, want %q", b.String(), wantFrame)
	}
	b.Reset()
	r.Event(cache.Event{Digest: layerA, Kind: cache.Done, Current: 40_100_000, Total: 40_100_000})
	r.Close()
	r.Event(cache.Event{Digest: layerA, Kind: cache.Failed})
	if !strings.HasSuffix(b.String(), "3f1a2b9c04de: Download complete\n\r\x1b[2K0123456789ab: Already exists\n") {
		t.Errorf("last tty frames = %q, want both layers finished and nothing after Close", b.String())
	}
}

func TestQuiet(t *testing.T) {
	var b strings.Builder
	r := New(&b, Quiet)
	for _, e := range pull {
		r.Event(e)
	}
	r.Close()
	if b.Len() != 0 {
		t.Errorf("quiet output = %q, want nothing", b.String())
	}
}

// TestConcurrentEvents sends events from one goroutine per layer, as cache does, and checks
// that every line comes out whole.
func TestConcurrentEvents(t *testing.T) {
	var b lockedBuilder
	r := New(&b, Plain)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(rune('a'+i)), 64)}
			for _, k := range []cache.EventKind{cache.Waiting, cache.Downloading, cache.Verifying, cache.Done} {
				r.Event(cache.Event{Digest: d, Kind: k, Total: 100})
			}
		}()
	}
	wg.Wait()
	r.Close()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 8*4 {
		t.Errorf("got %d lines, want %d", len(lines), 8*4)
	}
	for _, l := range lines {
		id, status, ok := strings.Cut(l, ": ")
		if !ok || len(id) != 12 || status == "" {
			t.Errorf("garbled line %q", l)
		}
	}
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestCheckModeAndHumanSize(t *testing.T) {
	for _, m := range []string{"auto", "tty", "plain", "json", "quiet"} {
		if err := CheckMode(m); err != nil {
			t.Errorf("CheckMode(%q) = %v", m, err)
		}
	}
	if err := CheckMode("fancy"); err == nil {
		t.Error("CheckMode(fancy) = nil, want an error")
	}
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {999, "999B"}, {1000, "1.0kB"}, {12_345_678, "12.3MB"}, {999_999, "1.0MB"}, {2_500_000_000, "2.5GB"},
	}
	for _, tt := range tests {
		if got := HumanSize(tt.n); got != tt.want {
			t.Errorf("HumanSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
