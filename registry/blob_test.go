package registry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestFetchBlobRangeHandling covers registries that do not honour Range as asked: one that
// ignores it (200 with the whole blob, which FetchBlob skips into) and one that answers a
// different range (refused, since appending it would corrupt the download).
func TestFetchBlobRangeHandling(t *testing.T) {
	tests := []struct {
		name    string
		wrap    func(http.Handler) http.Handler
		wantErr bool
	}{
		{"range ignored", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("Range")
				next.ServeHTTP(w, r)
			})
		}, false},
		{"wrong range", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Range") != "" && strings.Contains(r.URL.Path, "/blobs/") {
					w.Header().Set("Content-Range", "bytes 0-3/100")
					w.WriteHeader(http.StatusPartialContent)
					_, _ = w.Write([]byte("abcd"))
					return
				}
				next.ServeHTTP(w, r)
			})
		}, true},
		{"huge Content-Range", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Range") != "" && strings.Contains(r.URL.Path, "/blobs/") {
					w.Header().Set("Content-Range", "bytes "+strings.Repeat("9", 1<<20))
					w.WriteHeader(http.StatusPartialContent)
					return
				}
				next.ServeHTTP(w, r)
			})
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := serve(t, tt.wrap)
			img := randomImage(t)
			ref := pushImage(t, host+"/range/app:1", img)
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Image(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			layers, _ := img.Layers()
			rc, _ := layers[0].Compressed()
			whole, _ := io.ReadAll(rc)
			const off = 100
			body, err := got.FetchBlob(context.Background(), digestOf(t, layers[0]), off)
			if tt.wantErr {
				if err == nil {
					body.Close()
					t.Fatal("FetchBlob accepted a Content-Range that does not start at the offset")
				}
				if len(err.Error()) > 4096 {
					t.Errorf("FetchBlob = %.200q… (%d bytes), want one short line", err, len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatalf("FetchBlob = %v", err)
			}
			defer body.Close()
			tail, err := io.ReadAll(body)
			if err != nil || !bytes.Equal(tail, whole[off:]) {
				t.Errorf("FetchBlob(offset %d) read %d bytes, %v; want the last %d", off, len(tail), err, len(whole)-off)
			}
		})
	}
}

func TestFetchBlobBadOffset(t *testing.T) {
	host := serve(t, nil)
	img := randomImage(t)
	ref := pushImage(t, host+"/range/bad:1", img)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	size, _ := layers[0].Size()
	for _, off := range []int64{-1, size, size + 1} {
		if body, err := got.FetchBlob(context.Background(), digestOf(t, layers[0]), off); err == nil {
			body.Close()
			t.Errorf("FetchBlob(offset %d of a %d-byte blob) = nil error", off, size)
		}
	}
}

func TestRangeStart(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"bytes 0-9/10", 0, true},
		{"bytes 100-199/200", 100, true},
		{"bytes 5-9/*", 5, true},
		{"bytes */10", 0, false},
		{"items 0-9/10", 0, false},
		{"", 0, false},
		{"bytes -5-9/10", 0, false},
	}
	for _, tt := range tests {
		got, ok := rangeStart(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("rangeStart(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
