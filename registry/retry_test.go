package registry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flaky answers the first `fail` requests whose path contains sub with status (and a
// Retry-After header if retryAfter is set), counting every request to sub.
type flaky struct {
	sub        string
	fail       int64
	status     int
	retryAfter string
	on         atomic.Bool
	seen       atomic.Int64
}

func (f *flaky) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.on.Load() && strings.Contains(r.URL.Path, f.sub) {
			if n := f.seen.Add(1); n <= f.fail {
				if f.retryAfter != "" {
					w.Header().Set("Retry-After", f.retryAfter)
				}
				w.WriteHeader(f.status)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func TestRetries(t *testing.T) {
	const never = 1 << 30
	tests := []struct {
		name         string
		sub          string
		fail         int64
		status       int
		retryAfter   string
		wantErr      error // nil: the pull succeeds
		wantAttempts int64
	}{
		{"500 twice on the manifest", "/manifests/", 2, http.StatusInternalServerError, "", nil, 3},
		{"503 three times on the manifest", "/manifests/", 3, http.StatusServiceUnavailable, "", nil, 4},
		// fastRetry's cap is 5 ms: a Retry-After of 0 is within it, one of 1 s past it.
		{"429 with Retry-After seconds", "/manifests/", 2, http.StatusTooManyRequests, "0", nil, 3},
		{"429 with a huge Retry-After, capped", "/manifests/", 1, http.StatusTooManyRequests, "86400", nil, 2},
		{"429 with an HTTP date", "/manifests/", 1, http.StatusTooManyRequests, "Wed, 21 Oct 2015 07:28:00 GMT", nil, 2},
		{"429 forever", "/manifests/", never, http.StatusTooManyRequests, "0", ErrTooManyRequests, 4},
		// Asked again for more than the cap after waiting it once: the registry's error, at
		// once, not the cap waited after every attempt (90 s by default, silent).
		{"429 forever with a huge Retry-After", "/manifests/", never, http.StatusTooManyRequests, "86400", ErrTooManyRequests, 2},
		{"503 forever with a Retry-After past the cap", "/manifests/", never, http.StatusServiceUnavailable, "1", nil, 2},
		{"429 with a garbage Retry-After is the backoff", "/manifests/", 3, http.StatusTooManyRequests, "-5", nil, 4},
		{"500 forever", "/manifests/", never, http.StatusInternalServerError, "", nil, 4},
		{"404 is not retried", "/manifests/", never, http.StatusNotFound, "", ErrNotFound, 1},
		{"500 on the ping", "/v2/", 2, http.StatusInternalServerError, "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{sub: tt.sub, fail: tt.fail, status: tt.status, retryAfter: tt.retryAfter}
			host := serve(t, f.wrap)
			img := randomImage(t)
			ref := pushImage(t, host+"/retry/app:1", img)
			f.on.Store(true)

			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Image(context.Background(), ref)
			switch {
			case tt.name == "500 forever" || strings.HasPrefix(tt.name, "503 forever"):
				var re *Error
				if !errors.As(err, &re) || re.Kind != nil || !strings.Contains(err.Error(), fmt.Sprint(tt.status)) {
					t.Errorf("Image = %v, want a registry error naming HTTP %d", err, tt.status)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Image = %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("Image = %v, want success after retries", err)
			case got.Descriptor.Digest != digestOf(t, img):
				t.Errorf("Image digest = %s, want %s", got.Descriptor.Digest, digestOf(t, img))
			}
			if tt.wantAttempts > 0 && f.seen.Load() != tt.wantAttempts {
				t.Errorf("requests to %s = %d, want %d", tt.sub, f.seen.Load(), tt.wantAttempts)
			}
		})
	}
}

func TestFetchBlobRetries(t *testing.T) {
	f := &flaky{sub: "/blobs/", status: http.StatusBadGateway}
	host := serve(t, f.wrap)
	img := randomImage(t)
	ref := pushImage(t, host+"/retry/blob:1", img)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	f.fail = 2
	f.on.Store(true)
	body, err := got.FetchBlob(context.Background(), digestOf(t, layers[0]), 0)
	if err != nil {
		t.Fatalf("FetchBlob after two 502s = %v", err)
	}
	body.Close()
	if n := f.seen.Load(); n != 3 {
		t.Errorf("blob requests = %d, want 3", n)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 2 ", 2 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		// Past what a Duration holds: the longest wait, capped by the caller, not an
		// overflow into a negative one (no wait) or the default backoff.
		{"10000000000", math.MaxInt64, true},
		{"99999999999999999999", math.MaxInt64, true},
		{"-99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestContextCancelStopsRetrying(t *testing.T) {
	f := &flaky{sub: "/manifests/", fail: 1 << 30, status: http.StatusServiceUnavailable}
	f.on.Store(true)
	host := serve(t, f.wrap)
	opts := testOptions()
	opts.retry = &retryPolicy{attempts: 1000, backoff: time.Hour, maxRetryAfter: time.Hour}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for f.seen.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := p.Image(ctx, mustRef(t, host+"/x/y:1")); !errors.Is(err, context.Canceled) {
		t.Errorf("Image with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestRetryWaitCapped: a Retry-After at the cap, then failures without one, wait no longer
// than the cap each time: doubling the capped wait would make the next ones a minute, then two.
func TestRetryWaitCapped(t *testing.T) {
	var n atomic.Int64
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet {
				switch n.Add(1) {
				case 1:
					w.Header().Set("Retry-After", "3600")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				case 2, 3:
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := pushImage(t, host+"/retry/capped:1", randomImage(t))
	opts := testOptions()
	const limit = 700 * time.Millisecond
	opts.retry = &retryPolicy{attempts: 4, backoff: time.Millisecond, maxRetryAfter: limit}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := p.Image(context.Background(), ref); err != nil {
		t.Fatalf("Image after three failures = %v", err)
	}
	// Capped: three waits of the limit. Doubled: 1, 2 and 4 times it.
	if d := time.Since(start); d > 4*limit {
		t.Errorf("three retries took %s, want about %s", d.Round(time.Millisecond), 3*limit)
	}
}

// TestRetryAfterWaitTold: a long Retry-After wait is told in one line (the host, what was
// asked, what strata waits, how to stop) before it starts, and cancelling the context (Ctrl-C)
// ends it at once: a pull waited a minute and a half with nothing printed.
func TestRetryAfterWaitTold(t *testing.T) {
	f := &flaky{sub: "/manifests/", fail: 1 << 30, status: http.StatusTooManyRequests, retryAfter: "86400"}
	f.on.Store(true)
	host := serve(t, f.wrap)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var told []string
	opts := testOptions()
	opts.Warn = func(s string) {
		told = append(told, s)
		cancel()
	}
	opts.retry = &retryPolicy{attempts: 4, backoff: time.Millisecond, maxRetryAfter: time.Hour, notice: time.Second}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(ctx, mustRef(t, host+"/x/y:1")); !errors.Is(err, context.Canceled) {
		t.Errorf("Image cancelled during a Retry-After wait = %v, want context.Canceled", err)
	}
	want := "registry " + host + " asked to retry in 86400s; waiting 3600s (Ctrl-C to stop)"
	if len(told) != 1 || told[0] != want {
		t.Errorf("told %q, want [%q]", told, want)
	}
	if n := f.seen.Load(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestRetryNotice(t *testing.T) {
	tests := []struct {
		asked, wait time.Duration
		want        string
	}{
		{20 * time.Second, 20 * time.Second, "registry r.example asked to retry in 20s; waiting (Ctrl-C to stop)"},
		{1500 * time.Millisecond, 1500 * time.Millisecond, "registry r.example asked to retry in 2s; waiting (Ctrl-C to stop)"},
		{math.MaxInt64, 30 * time.Second, "registry r.example asked to retry in a very long time; waiting 30s (Ctrl-C to stop)"},
	}
	for _, tt := range tests {
		if got := retryNotice("r.example", tt.asked, tt.wait); got != tt.want {
			t.Errorf("retryNotice(%v, %v) = %q, want %q", tt.asked, tt.wait, got, tt.want)
		}
	}
}

// TestRetryNoticeOncePerWait: the layers of a pull, fetched in parallel and all asked to wait,
// tell of the wait once; a later wait, past the one told of, is told again.
func TestRetryNoticeOncePerWait(t *testing.T) {
	var told []string
	rt := &retryTransport{policy: retryPolicy{notice: time.Second}, notify: func(s string) { told = append(told, s) }}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 5 { // five layers, a few milliseconds apart
		rt.tell("r.example", time.Hour, 30*time.Second, now.Add(time.Duration(i)*time.Millisecond))
	}
	rt.tell("other.example", 20*time.Second, 20*time.Second, now)
	rt.tell("r.example", time.Hour, 30*time.Second, now.Add(31*time.Second))
	rt.tell("r.example", 100*time.Millisecond, 100*time.Millisecond, now.Add(time.Hour)) // short: not told
	if len(told) != 3 {
		t.Errorf("told %d lines, want 3 (one per host and wait): %q", len(told), told)
	}
}
