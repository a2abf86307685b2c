package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/strata-run/strata/internal/jsonvalues"
)

// MaxManifestSize is the largest manifest or index strata reads: the limit containerd and the
// OCI distribution spec's guidance use. A bigger one is refused before it is read, so a hostile
// registry cannot make strata buffer gigabytes.
const MaxManifestSize = 4 << 20

// MaxConfigSize is the largest image config strata reads into memory. Real configs are a few
// KiB (a long history makes them a few hundred); the limit only stops a manifest that claims
// gigabytes. It is reported as ErrManifestTooLarge.
const MaxConfigSize = 16 << 20

// The transport stack, outermost first, for every request of a command:
//
//	go-containerregistry's auth (ping, bearer token or basic), built once per repository
//	  → homeGuard → user agent → digestCheck → retryTransport → manifestLimit → redirectGuard
//	  → stallGuard → dialGuard → *http.Transport (two per TLS setting: see dial.go) → dialer
//
// Retries sit under auth so a token request is retried too, and a retried request keeps the
// token it already had: no new handshake per retry.

// baseTransport builds the shared part of the stack below auth, dialing through d.
func baseTransport(insecure bool, userAgent string, policy retryPolicy, d *dialer, notify func(string)) http.RoundTripper {
	ht := remote.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		ht.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for --insecure
	} else if d.hooks.roots != nil {
		ht.TLSClientConfig = &tls.Config{RootCAs: d.hooks.roots}
	}
	// A registry's headers are a few KiB; net/http would read 10 MiB of them per response.
	ht.MaxResponseHeaderBytes = maxResponseHeaders
	if d.hooks.proxy != nil {
		ht.Proxy = d.hooks.proxy
	}
	ht.DialContext = d.dialContext(false)
	guarded := ht.Clone()
	guarded.DialContext = d.dialContext(true)
	var rt http.RoundTripper = &dialGuard{open: ht, guarded: guarded, d: d}
	if policy.stall > 0 {
		rt = &stallGuard{inner: rt, limit: policy.stall}
	}
	rt = &manifestLimit{inner: &redirectGuard{inner: rt}}
	rt = &digestCheck{inner: &retryTransport{inner: rt, policy: policy, notify: notify}}
	return transport.NewUserAgent(rt, userAgent)
}

// retryTransport retries a request on 408, 429, 5xx and on a connection that broke, waiting
// policy.backoff, doubled each time, or what Retry-After asks (capped). It gives up after
// policy.attempts and returns the last response, whose status the caller turns into an error.
// A Retry-After past the cap (Docker Hub's rate limit asks for hours) is waited the cap once;
// a registry that asks that again is answered with its error at once, rather than waited the
// cap after each attempt (a pull sat silent for a minute and a half). A wait of at least
// policy.notice is told to notify, one line, before it starts: Ctrl-C (the request's
// context) ends it at once.
// An answer that is not HTTP on a kept-alive connection is retried at once: it is what the
// registry sent past its last answer's end on that connection (a Content-Length short of the
// body), read as the answer to the next request, which net/http sent on it before it saw
// those bytes arrive on the idle connection (and closed it, "Unsolicited response"). A pull
// from such a registry failed now and then with "answered with what is not HTTP".
type retryTransport struct {
	inner  http.RoundTripper
	policy retryPolicy
	notify func(string)
	// told maps a host to when the wait last told of ends: the layers of a pull fetched in
	// parallel, all asked to wait, print one line, not one each.
	told sync.Map
}

// tell tells notify of a Retry-After wait of host, unless one told of already covers it.
func (t *retryTransport) tell(host string, asked, wait time.Duration, now time.Time) {
	if t.notify == nil || wait < t.policy.notice {
		return
	}
	end := now.Add(wait)
	for {
		prev, loaded := t.told.LoadOrStore(host, end)
		if !loaded {
			break
		}
		if !prev.(time.Time).Before(end.Add(-wait / 2)) {
			return // an earlier line covers most of this wait
		}
		if t.told.CompareAndSwap(host, prev, end) {
			break
		}
	}
	t.notify(retryNotice(host, asked, wait))
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A body that cannot be rewound (a layer being uploaded) cannot be sent twice; the push
	// code of go-containerregistry retries those uploads itself.
	rewindable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	backoff := t.policy.backoff
	stalls := 0
	askedTooLong := false
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		var reused atomic.Bool
		r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused.Store(info.Reused) },
		}))
		resp, err := t.inner.RoundTrip(r)
		last := attempt >= t.policy.attempts || !rewindable
		var stall *stallError
		if errors.As(err, &stall) {
			// A stall already waited the whole limit (a minute): one more try, on a new
			// connection, covers a connection that died quietly; four made a registry that
			// stopped answering cost four minutes a request. A PUT that waited ten is not
			// sent again.
			if stalls++; stalls > 1 || stall.final {
				last = true
			}
		}
		switch {
		case err != nil:
			if _, bad := malformedAnswer(err); bad && reused.Load() && !last && req.Context().Err() == nil {
				continue // on another connection; this one net/http closed
			}
			if last || !retryableError(req.Context(), err) {
				return nil, err
			}
		case !retryableStatus(resp.StatusCode) || last:
			return resp, nil
		default:
			ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
			if ok && ra > t.policy.maxRetryAfter {
				if askedTooLong {
					return resp, nil
				}
				askedTooLong = true
			}
			// Drain a little so the connection can be reused, then let it go.
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
			resp.Body.Close()
			if ok {
				wait := min(ra, t.policy.maxRetryAfter)
				t.tell(req.URL.Host, ra, wait, time.Now())
				if err := sleep(req.Context(), wait); err != nil {
					return nil, err
				}
				continue
			}
		}
		if err := sleep(req.Context(), backoff); err != nil {
			return nil, err
		}
		// Doubled, but not past the cap. A Retry-After governs only the wait after the
		// answer that sent it: after one of 30 s, a registry that keeps failing must not make
		// strata wait a minute, then two.
		backoff = min(backoff*2, max(t.policy.maxRetryAfter, t.policy.backoff))
	}
}

// retryNotice is the line that tells of a Retry-After wait: asked is what the registry asked
// for, wait what strata waits.
func retryNotice(host string, asked, wait time.Duration) string {
	secs := func(d time.Duration) string {
		if d >= math.MaxInt64/2 {
			return "a very long time"
		}
		return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10) + "s"
	}
	if asked > wait {
		return fmt.Sprintf("registry %s asked to retry in %s; waiting %s (Ctrl-C to stop)", host, secs(asked), secs(wait))
	}
	return fmt.Sprintf("registry %s asked to retry in %s; waiting (Ctrl-C to stop)", host, secs(asked))
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableError is true for a connection that broke or timed out. A refused connection or
// an unknown host is final: retrying would only delay the fallback to the next mirror.
func retryableError(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	// Out of range is a very long wait too (ParseInt then gives the largest int64): it must
	// not overflow into no wait at all, nor fall back to the short default.
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(h); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// manifestLimit refuses manifest responses over MaxManifestSize: at once when Content-Length
// says so, else when the body grows past it.
type manifestLimit struct {
	inner http.RoundTripper
}

func (t *manifestLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.inner.RoundTrip(req)
	if err == nil && req.Method == http.MethodGet && isPing(req) {
		// go-containerregistry reads the ping's body to its end, to reuse the connection, and
		// uses nothing of it: an endless one kept strata reading forever.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, maxPingBody), resp.Body}
		return resp, nil
	}
	if err == nil && resp.StatusCode >= 400 {
		return shortErrorBody(resp), nil
	}
	if err != nil || req.Method != http.MethodGet || !isManifestRequest(req) {
		return resp, err
	}
	if resp.ContentLength > MaxManifestSize {
		resp.Body.Close()
		return nil, tooLarge(req, resp.ContentLength)
	}
	limited := &limitedBody{ReadCloser: resp.Body, left: MaxManifestSize, req: req}
	if resp.StatusCode != http.StatusOK {
		resp.Body = limited // an error body, read by go-containerregistry's error check
		return resp, nil
	}
	// Read here, whole, to count its values before anything parses it: go-containerregistry
	// parses every manifest it fetches (for its artifactType), before strata sees it.
	b, err := io.ReadAll(limited)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if n := jsonvalues.Count(b); n > maxJSONValues {
		return nil, &Error{Kind: ErrManifestTooLarge, Registry: req.URL.Host, Msg: fmt.Sprintf(
			"manifest %s from %s has more than %d JSON values (%d bytes), far more than any image's",
			oneLine(req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]), req.URL.Host, maxJSONValues, len(b))}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}

// maxErrorBody is what go-containerregistry's error check reads of an error answer.
const maxErrorBody = 64 << 10

// shortErrorBody makes the body of an error answer (4xx, 5xx) to any request fit what
// go-containerregistry's error check reads of it, maxErrorBody: past that it reports "body
// exceeds 65536 byte limit" instead of the refusal, and the user never learns that the
// registry answered 401 or 404, nor with which error code. A longer body is read up to
// maxErrorBody, no further, and replaced by the registry errors its head holds, re-encoded
// whole, or else by the head itself. A body that breaks off still leaves the status.
func shortErrorBody(resp *http.Response) *http.Response {
	if resp.ContentLength >= 0 && resp.ContentLength <= maxErrorBody {
		return resp
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	resp.Body.Close()
	if len(head) > maxErrorBody {
		head = head[:maxErrorBody]
		if diags := headErrors(head); len(diags) > 0 {
			if b, err := json.Marshal(struct {
				Errors []transport.Diagnostic `json:"errors"`
			}{diags}); err == nil && len(b) <= maxErrorBody {
				head = b
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(head))
	resp.ContentLength = int64(len(head))
	resp.Header.Del("Content-Length")
	return resp
}

// headErrors returns the registry errors ({"errors":[{"code":…,"message":…},…]}) that the head
// of a longer JSON body holds: each whose code it holds, with its message if that ends within
// the head.
func headErrors(head []byte) []transport.Diagnostic {
	dec := json.NewDecoder(bytes.NewReader(head))
	if !jsonDelim(dec, '{') {
		return nil
	}
	for dec.More() {
		key, ok := jsonString(dec)
		if !ok {
			return nil
		}
		if key != "errors" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if !jsonDelim(dec, '[') {
			return nil
		}
		var diags []transport.Diagnostic
		for dec.More() {
			d, whole := headDiagnostic(dec)
			if d.Code != "" {
				diags = append(diags, d)
			}
			if !whole {
				break
			}
		}
		return diags
	}
	return nil
}

// headDiagnostic reads one registry error of headErrors: what it has of its code and message,
// and whether it ended within the head.
func headDiagnostic(dec *json.Decoder) (d transport.Diagnostic, whole bool) {
	if !jsonDelim(dec, '{') {
		return d, false
	}
	for dec.More() {
		key, ok := jsonString(dec)
		if !ok {
			return d, false
		}
		switch key {
		case "code", "message":
			v, ok := jsonString(dec)
			if !ok {
				return d, false
			}
			if key == "code" {
				d.Code = transport.ErrorCode(v)
			} else {
				d.Message = v
			}
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return d, false
			}
		}
	}
	_, err := dec.Token() // the closing brace
	return d, err == nil
}

func jsonDelim(dec *json.Decoder, want json.Delim) bool {
	t, err := dec.Token()
	return err == nil && t == want
}

func jsonString(dec *json.Decoder) (string, bool) {
	t, err := dec.Token()
	s, ok := t.(string)
	return s, err == nil && ok
}

// isManifestRequest reports whether req fetches a manifest: by the path of the request strata
// made, the first of a chain of redirects, so that a registry that redirects manifests to a
// URL of its choosing (a CDN's, without "/manifests/") does not escape the limit. The path's
// element before the last (/v2/NAME/manifests/REF) names the endpoint: a repository may have
// "manifests" as an element of its own ("org/manifests/app"), as docker's registry allows,
// and the blobs of such a repository were taken for manifests: read whole into memory, and
// refused past 4 MiB.
func isManifestRequest(req *http.Request) bool {
	return endpointWord(firstRequest(req).URL.Path) == "manifests"
}

// endpointWord is the element before the last of p, a registry API path ("/v2/NAME/KIND/REF"),
// which names its endpoint: "manifests", "blobs", or "uploads" for an upload. A path not
// under /v2/ has none.
func endpointWord(p string) string {
	rest, ok := strings.CutPrefix(p, "/v2/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i < 0 {
		return ""
	}
	return rest[strings.LastIndexByte(rest[:i], '/')+1 : i]
}

// maxResponseHeaders bounds the headers of a response (a WWW-Authenticate challenge included).
const maxResponseHeaders = 1 << 20

// maxPingBody is what strata reads of a ping's body (GET /v2/): Docker Hub's is "{}".
const maxPingBody = 64 << 10

// isPing reports whether req is the ping GET /v2/, or a redirect that one led to.
func isPing(req *http.Request) bool {
	for req.Response != nil && req.Response.Request != nil {
		req = req.Response.Request
	}
	return req.URL.Path == "/v2/"
}

func tooLarge(req *http.Request, size int64) error {
	what := "manifest " + req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
	if size > 0 {
		what += fmt.Sprintf(" (%d bytes)", size)
	}
	return &Error{Kind: ErrManifestTooLarge, Registry: req.URL.Host,
		Msg: fmt.Sprintf("%s from %s is larger than the %d MiB limit", what, req.URL.Host, MaxManifestSize>>20)}
}

type limitedBody struct {
	io.ReadCloser
	left int64
	req  *http.Request
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe one byte: a body of exactly the limit is fine.
		var one [1]byte
		for {
			n, err := b.ReadCloser.Read(one[:])
			if n > 0 {
				return 0, tooLarge(b.req, -1)
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// stallGuard fails a request that gets nothing from the registry for limit: no response
// headers, or no next byte of the body while the caller waits in Read. Without it a registry
// that accepts the connection and then goes quiet hangs strata forever (net/http and
// go-containerregistry set no such timeout). The time a caller spends between reads (a layer
// being unpacked) does not count. A PUT's answer, once its body is sent, gets putAnswerFactor
// times the limit, for it may wait on the registry to store what was sent: committing a big
// blob (the PUT that ends an upload, with no body, becomes a copy on S3) can take minutes; it
// was awaited with no limit, and a registry that never answered a manifest PUT held a push
// forever. A PATCH streams the blob, which the registry stores as it reads: its answer gets
// the limit once the body is sent.
type stallGuard struct {
	inner http.RoundTripper
	limit time.Duration
}

// stallError is a stalled request's error. It is a net.Error timeout, so retryTransport
// retries it and classify words it "timed out"; never context.Canceled, which callers take
// for the user's own cancellation. A final one is not retried: a PUT that waited out its
// putAnswerFactor times longer limit.
type stallError struct {
	limit time.Duration
	final bool
}

func (e *stallError) Error() string   { return fmt.Sprintf("registry stalled for %s", e.limit) }
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// GuardStalls is rt with the stall guard of every registry request (see stallGuard): a
// request that gets nothing for limit, no response headers or no next byte of its body while
// its caller waits in Read, fails with an error StallOf recognizes. import fetches a URL
// through it.
func GuardStalls(rt http.RoundTripper, limit time.Duration) http.RoundTripper {
	return &stallGuard{inner: rt, limit: limit}
}

// StallOf reports whether err is, or wraps, the failure of a request GuardStalls ended, and
// how long the request had got nothing.
func StallOf(err error) (time.Duration, bool) {
	var stall *stallError
	if errors.As(err, &stall) {
		return stall.limit, true
	}
	return 0, false
}

func (g *stallGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	var stalled atomic.Bool
	timer := time.AfterFunc(g.limit, func() {
		stalled.Store(true)
		cancel()
	})
	sent := req.WithContext(ctx)
	var answered *armOnEOF
	limit := g.limit
	if req.Method == http.MethodPut || req.Method == http.MethodPatch {
		timer.Stop()
		if req.Method == http.MethodPut {
			limit = g.limit * putAnswerFactor
		}
		if req.Body != nil && req.Body != http.NoBody {
			answered = &armOnEOF{ReadCloser: req.Body, timer: timer, limit: limit}
			sent.Body = answered
		} else {
			timer.Reset(limit) // nothing to send: the answer is owed now
		}
	}
	resp, err := g.inner.RoundTrip(sent)
	if answered != nil {
		answered.disarm()
	}
	timer.Stop()
	if err != nil {
		cancel()
		if stalled.Load() {
			return nil, &stallError{limit: limit, final: req.Method == http.MethodPut}
		}
		return nil, err
	}
	resp.Body = &stallBody{ReadCloser: resp.Body, timer: timer, limit: g.limit, left: g.limit, stalled: &stalled, cancel: cancel}
	return resp, nil
}

// armOnEOF is a request body that starts its guard's timer when it has all been read: the
// registry has the whole PATCH and owes an answer. disarm, once the answer came (or the
// request failed), keeps a late EOF from starting it again.
type armOnEOF struct {
	io.ReadCloser
	timer *time.Timer
	limit time.Duration
	mu    sync.Mutex
	done  bool
}

func (b *armOnEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.mu.Lock()
		if !b.done {
			b.timer.Reset(b.limit)
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *armOnEOF) disarm() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
}

// putAnswerFactor times the stall limit is how long a PUT's answer may take once its body is
// sent: ten minutes by default, well past any commit of a layer.
const putAnswerFactor = 10

// minProgress is what a body must deliver within the stall limit (counting only time spent
// in Read) to be making progress: a registry that drips a byte now and then is stalled too.
// 1 KiB a minute is far below any real link.
const minProgress = 1 << 10

// stallBody arms the guard's timer for the length of each Read, with what is left of the
// limit since the body last delivered minProgress bytes.
type stallBody struct {
	io.ReadCloser
	timer   *time.Timer
	limit   time.Duration
	stalled *atomic.Bool
	cancel  context.CancelFunc
	left    time.Duration // of the limit
	got     int           // bytes since left was last reset
}

func (b *stallBody) Read(p []byte) (int, error) {
	start := time.Now()
	b.timer.Reset(max(b.left, time.Nanosecond))
	n, err := b.ReadCloser.Read(p)
	b.timer.Stop()
	b.left -= time.Since(start)
	if b.got += n; b.got >= minProgress {
		b.got, b.left = 0, b.limit
	}
	if err != nil && err != io.EOF && b.stalled.Load() {
		return n, &stallError{limit: b.limit}
	}
	return n, err
}

func (b *stallBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// maxJSONValues bounds the values of a manifest, index or config that strata parses.
const maxJSONValues = jsonvalues.Max

// checkValues refuses, before it is parsed, a manifest, index or config (named by what) with
// more than maxJSONValues values. It is reported as ErrManifestTooLarge.
func checkValues(b []byte, what, host string) error {
	if n := jsonvalues.Count(b); n > maxJSONValues {
		return &Error{Kind: ErrManifestTooLarge, Registry: host, Msg: fmt.Sprintf(
			"%s from %s has more than %d JSON values (%d bytes), far more than any image's", what, host, maxJSONValues, len(b))}
	}
	return nil
}
