package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// PushStatus is the state of one layer during Push, in the words docker prints.
type PushStatus int

// The states of a layer: Preparing, then Exists, or Pushing and Pushed.
const (
	// PushPreparing: queued; whether the registry has it is not known yet.
	PushPreparing PushStatus = iota
	// PushPushing: the registry lacks it and it is being uploaded.
	PushPushing
	// PushPushed: uploaded.
	PushPushed
	// PushExists: the registry already had it; nothing was uploaded.
	PushExists
)

var pushStatusNames = [...]string{"Preparing", "Pushing", "Pushed", "Layer already exists"}

// String returns docker's words for s.
func (s PushStatus) String() string {
	if s >= 0 && int(s) < len(pushStatusNames) {
		return pushStatusNames[s]
	}
	return "unknown"
}

// PushEvent reports one layer of a Push.
type PushEvent struct {
	Digest v1.Hash
	Size   int64
	Status PushStatus
}

// pushConcurrency is how many layers upload at once; docker's default is 5, go-containerregistry's 4.
const pushConcurrency = 4

// Push uploads img to ref: to its tag, or to its digest when ref has no tag. Blobs the registry
// already has are skipped. Mirrors play no part: a push goes to the registry itself. The
// manifest is uploaded byte for byte as img serializes it, so its digest is unchanged.
// Options.PushProgress, if set, hears about each layer.
func Push(ctx context.Context, ref Reference, img v1.Image, opts Options) error {
	return push(ctx, ref, opts, func(s *session, r name.Reference, o []remote.Option) error {
		if err := pushBlobs(ctx, s, img, opts.PushProgress, stallLimit(opts)); err != nil {
			return err
		}
		// Config and manifest; the layers are there now, so their HEADs answer 200.
		return remote.Write(r, img, o...)
	})
}

// PushIndex uploads an index and every manifest and blob it lists to ref, as Push does for one
// image. Options.PushProgress hears about each layer once, whichever images share it.
func PushIndex(ctx context.Context, ref Reference, idx v1.ImageIndex, opts Options) error {
	return push(ctx, ref, opts, func(s *session, r name.Reference, _ []remote.Option) error {
		// The blobs of each image first, as Push uploads them; the index's write then finds
		// them there.
		if err := pushIndexBlobs(ctx, s, idx, onceEach(opts.PushProgress), stallLimit(opts), 0); err != nil {
			return err
		}
		return remote.WriteIndex(r, idx, pushOptions(ctx, s)...)
	})
}

// pushBlobs uploads the layers of img the registry lacks, and checks its config: go-containerregistry
// takes any 200 to a blob's HEAD for "there", so a registry claiming the config at another size
// is refused here, before a manifest names it.
func pushBlobs(ctx context.Context, s *session, img v1.Image, progress func(PushEvent), stall time.Duration) error {
	if err := pushLayers(ctx, s, img, progress, stall); err != nil {
		return err
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("reading config digest: %w", err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	_, err = blobExists(ctx, s, cfg, int64(len(raw)))
	return err
}

// maxIndexDepth bounds the nesting of indexes pushIndexBlobs follows; go-containerregistry's
// write of the index follows what is left.
const maxIndexDepth = 8

// onceEach returns progress for the images of an index, which share layers: the events of a
// layer after the first image's Pushed or Layer already exists (a second image's Preparing,
// and its Layer already exists, the first having just pushed it) are dropped. Nil stays nil.
func onceEach(progress func(PushEvent)) func(PushEvent) {
	if progress == nil {
		return nil
	}
	var mu sync.Mutex
	last := map[v1.Hash]PushStatus{}
	return func(e PushEvent) {
		mu.Lock()
		prev, seen := last[e.Digest]
		if seen && (prev == e.Status || prev == PushPushed || prev == PushExists) {
			mu.Unlock()
			return
		}
		last[e.Digest] = e.Status
		mu.Unlock()
		progress(e)
	}
}

// pushIndexBlobs runs pushBlobs for each image idx lists, and in the indexes it lists.
func pushIndexBlobs(ctx context.Context, s *session, idx v1.ImageIndex, progress func(PushEvent), stall time.Duration, depth int) error {
	if depth > maxIndexDepth {
		return nil
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading index: %w", err)
	}
	for _, d := range m.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return fmt.Errorf("reading index %s: %w", d.Digest, err)
			}
			if err := pushIndexBlobs(ctx, s, child, progress, stall, depth+1); err != nil {
				return err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return fmt.Errorf("reading image %s: %w", d.Digest, err)
			}
			if err := pushBlobs(ctx, s, img, progress, stall); err != nil {
				return err
			}
		}
	}
	return nil
}

func push(ctx context.Context, ref Reference, opts Options, write func(*session, name.Reference, []remote.Option) error) error {
	p, err := NewPuller(opts)
	if err != nil {
		return err
	}
	if ref.tag != "" {
		ref.digest = "" // a tag is what a push names; a digest would be computed anyway
	}
	ep := endpoint{host: ref.domain, insecure: p.insecure(ref.domain)}
	s, rref, err := p.open(ctx, ref, ep, transport.PushScope)
	if err != nil {
		return err
	}
	if err := write(s, rref, pushOptions(ctx, s)); err != nil {
		return classify(err, opPush, "repository "+ref.Name(), ref.Name(), ep.host)
	}
	return nil
}

// pushLayers uploads the layers the registry lacks, pushConcurrency at once, telling progress
// which ones it already had. go-containerregistry's Write does the same checks but reports
// only bytes for the whole image, and docker users expect "Layer already exists".
func pushLayers(ctx context.Context, s *session, img v1.Image, progress func(PushEvent), stall time.Duration) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading layers: %w", err)
	}
	emit := func(e PushEvent) {
		if progress != nil {
			progress(e)
		}
	}
	type job struct {
		layer v1.Layer
		ev    PushEvent
	}
	var jobs []job
	seen := map[v1.Hash]bool{}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("reading layer digest: %w", err)
		}
		size, err := l.Size()
		if err != nil {
			return fmt.Errorf("reading layer %s size: %w", d, err)
		}
		if seen[d] {
			continue
		}
		seen[d] = true
		j := job{l, PushEvent{Digest: d, Size: size, Status: PushPreparing}}
		jobs = append(jobs, j)
		emit(j.ev)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, pushConcurrency)
	)
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := pushLayer(ctx, s, j.layer, j.ev, emit, stall); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return ctx.Err()
}

func pushLayer(ctx context.Context, s *session, l v1.Layer, ev PushEvent, emit func(PushEvent), stall time.Duration) error {
	exists, err := blobExists(ctx, s, ev.Digest, ev.Size)
	if err != nil {
		return err
	}
	if exists {
		ev.Status = PushExists
		emit(ev)
		return nil
	}
	ev.Status = PushPushing
	emit(ev)
	ctx, w, done := watchSends(ctx, stall)
	defer done()
	if err := remote.WriteLayer(s.repo, w.layer(l), pushOptions(ctx, s)...); err != nil {
		if stalled := stallOf(ctx); stalled != nil {
			return &Error{Kind: ErrUnreachable, Registry: s.host, Err: stalled, Msg: fmt.Sprintf(
				"pushing %s: registry %s took nothing of layer %s for %s: timed out", s.repo.Name(), s.host, ev.Digest, stall)}
		}
		return err
	}
	ev.Status = PushPushed
	emit(ev)
	return nil
}

// pushOptions are the session's options for go-containerregistry's writes, which restart a
// whole upload, up to three times, on any error it deems temporary. strata's transport has
// already retried each request on 408, 429, 5xx and broken connections, so a registry that
// answered every PATCH 503 got each layer sent ten times and more. Only a lost upload
// (BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID), which no retry of one request mends, is
// worth a new one.
func pushOptions(ctx context.Context, s *session) []remote.Option {
	return append(s.options(ctx), remote.WithRetryPredicate(uploadLost))
}

func uploadLost(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) || retryableStatus(te.StatusCode) {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.BlobUploadUnknownErrorCode || d.Code == transport.BlobUploadInvalidErrorCode {
			return true
		}
	}
	return false
}

// stallLimit is the stall limit of opts' retry policy (zero: none).
func stallLimit(opts Options) time.Duration {
	if opts.retry != nil {
		return opts.retry.stall
	}
	return defaultRetry.stall
}

// sendWatch fails uploads whose body the registry stops taking: stallGuard does not time a
// PUT or PATCH, which may wait long on the registry's storage, so a registry that accepts the
// PATCH and then reads nothing more of it (its socket buffers full) held the push forever.
// Each body's timer runs from one Read to the next; the time after the body's end, waiting
// for the answer, is not counted. A stall cancels the context watchSends returned, with a
// *stallError as its cause. A nil *sendWatch watches nothing.
type sendWatch struct {
	limit  time.Duration
	cancel context.CancelCauseFunc
}

// watchSends returns ctx under a sendWatch of limit (none if limit is 0), and the func that
// ends it.
func watchSends(ctx context.Context, limit time.Duration) (context.Context, *sendWatch, func()) {
	if limit <= 0 {
		return ctx, nil, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	return ctx, &sendWatch{limit: limit, cancel: cancel}, func() { cancel(nil) }
}

// stallOf returns the stall that cancelled ctx, if one did.
func stallOf(ctx context.Context) *stallError {
	var stalled *stallError
	if errors.As(context.Cause(ctx), &stalled) {
		return stalled
	}
	return nil
}

func (w *sendWatch) layer(l v1.Layer) v1.Layer {
	if w == nil {
		return l
	}
	return watchedLayer{l, w}
}

// watchedLayer is a layer whose compressed bytes are read under a sendWatch.
type watchedLayer struct {
	v1.Layer
	w *sendWatch
}

func (l watchedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	w := l.w
	t := time.AfterFunc(w.limit, func() { w.cancel(&stallError{limit: w.limit}) })
	t.Stop()
	return &watchedBody{ReadCloser: rc, limit: w.limit, timer: t}, nil
}

type watchedBody struct {
	io.ReadCloser
	limit  time.Duration
	timer  *time.Timer
	closed atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.timer.Stop()
	n, err := b.ReadCloser.Read(p)
	if err == nil {
		b.timer.Reset(b.limit)
		if b.closed.Load() { // net/http may close the body while a Read is under way
			b.timer.Stop()
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.closed.Store(true)
	b.timer.Stop()
	return b.ReadCloser.Close()
}

// blobExists asks the registry, with a HEAD, whether the repository has blob h, of size bytes.
// A registry that has it at another size, or names another digest, has something else under
// that digest, or nothing:
// skipping the upload would publish a manifest naming a blob the registry cannot serve, so
// that is an error. A HEAD with no length, or 0, (a proxy that drops it) is believed.
func blobExists(ctx context.Context, s *session, h v1.Hash, size int64) (bool, error) {
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", s.repo.Scheme(), s.repo.RegistryStr(), s.repo.RepositoryStr(), h)
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return false, err
	}
	resp, err := (&http.Client{Transport: s.rt}).Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		if d := strings.TrimSpace(resp.Header.Get("Docker-Content-Digest")); d != "" && !strings.EqualFold(d, h.String()) {
			return false, &Error{Registry: s.host, Msg: fmt.Sprintf(
				"pushing %s: registry %s answered for blob %s with digest %s", s.repo.Name(), s.host, h, oneLine(d))}
		}
		if resp.ContentLength > 0 && resp.ContentLength != size {
			return false, &Error{Registry: s.host, Msg: fmt.Sprintf(
				"pushing %s: registry %s says it has blob %s as %d bytes, but the blob is %d bytes",
				s.repo.Name(), s.host, h, resp.ContentLength, size)}
		}
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, transport.CheckError(resp, http.StatusOK)
}

// digestCheck fails a manifest PUT that the registry answers with another Docker-Content-Digest
// than the digest of the bytes sent: the registry stored, or claims to have stored, something
// else under the tag, and strata would record and print a digest the registry does not serve.
// go-containerregistry reads no answer of a manifest PUT. A registry that sends no digest is
// taken at its word that it stored the bytes.
type digestCheck struct {
	inner http.RoundTripper
}

func (t *digestCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return t.inner.RoundTrip(req)
	}
	req, err := rewound(req)
	if err != nil {
		return nil, err
	}
	resp, err := t.write(req)
	return writeRedirected(req, resp, err)
}

func (t *digestCheck) write(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/blobs/uploads/") && !req.URL.Query().Has("mount") {
		return uploadStarted(t.inner.RoundTrip(req))
	}
	if want := req.URL.Query().Get("digest"); req.Method == http.MethodPut && want != "" && strings.Contains(req.URL.Path, "/blobs/uploads/") {
		return checkCommit(t.inner.RoundTrip(req))
	}
	if req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/manifests/") || req.GetBody == nil {
		return t.inner.RoundTrip(req)
	}
	body, err := req.GetBody()
	if err != nil {
		req.Body.Close()
		return nil, err
	}
	sent, err := io.ReadAll(io.LimitReader(body, MaxManifestSize+1))
	body.Close()
	if err != nil {
		req.Body.Close()
		return nil, err
	}
	resp, err := t.inner.RoundTrip(req)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, err
	}
	answer := strings.TrimSpace(resp.Header.Get("Docker-Content-Digest"))
	if answer == "" {
		return resp, nil
	}
	alg, hexPart, _ := strings.Cut(answer, ":")
	if hashes(sent, v1.Hash{Algorithm: alg, Hex: strings.ToLower(hexPart)}) {
		return resp, nil
	}
	resp.Body.Close()
	ours, _, _ := v1.SHA256(bytes.NewReader(sent))
	return nil, &Error{Registry: req.URL.Host, Msg: fmt.Sprintf(
		"pushing manifest %s to %s: the registry answered with digest %s, not the digest of what strata sent",
		ours, req.URL.Host, oneLine(answer))}
}

// writeRedirected fails the answer to a write of the push (a POST, PATCH or PUT of a blob or
// a manifest) that is a 301, 302 or 303: net/http follows those with a GET and no body, so
// a manifest PUT redirected to a URL that answers a GET with 200 was taken for stored, and the
// push said it had pushed what the registry never got; a commit PUT, that the blob was there.
// 307 and 308 keep the method and the body, and are followed.
func writeRedirected(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	if err != nil || (!strings.Contains(req.URL.Path, "/manifests/") && !strings.Contains(req.URL.Path, "/blobs/")) {
		return resp, err
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
	default:
		return resp, err
	}
	resp.Body.Close()
	where := oneLine(resp.Header.Get("Location"))
	if len(where) > 200 {
		where = where[:200] + "…"
	}
	return nil, &Error{Registry: req.URL.Host, Msg: fmt.Sprintf(
		"pushing to %s: the registry answered a %s with a redirect (HTTP %d to %q), which can only be followed as a GET without what was sent; push to the registry's own address",
		req.URL.Host, req.Method, resp.StatusCode, where)}
}

// rewound returns req with a fresh body from its GetBody, the body it came with closed unread.
// go-containerregistry's bearer transport answers a 401 (a token that expired in the middle of
// an upload) by sending the same request again, body and all: the body was already sent and
// closed, so the PATCH of the layer failed with "read/write on closed pipe" and a manifest PUT
// went out empty. A request without GetBody is returned as it is.
func rewound(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody == nil {
		return req, nil
	}
	body, err := req.GetBody()
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	return r, nil
}

// uploadStarted fails a 201 Created to the POST that starts an upload without asking to
// mount a blob (strata never asks): 201 says the blob is there, mounted, and
// go-containerregistry then sends none of it. The registry had just answered the blob's HEAD
// with 404, and a manifest naming it went up after, so the push printed its digest for a
// registry without the layer. docker, after a 201, asks for the blob it had asked to mount,
// which here is none.
func uploadStarted(resp *http.Response, err error) (*http.Response, error) {
	if err != nil || resp.StatusCode != http.StatusCreated {
		return resp, err
	}
	resp.Body.Close()
	host := resp.Request.URL.Host
	return nil, &Error{Registry: host, Msg: fmt.Sprintf(
		"pushing to %s: the registry answered the start of an upload with 201 Created, as if it had the blob already, though it had said it lacked it and strata asked for no mount",
		host)}
}

// checkCommit fails the answer to the PUT that commits an upload as blob ?digest=D when it
// names another digest: the registry stored the bytes under something else, and the manifest
// about to name D would name a blob it lacks (docker asks for the blob again after a commit).
func checkCommit(resp *http.Response, err error) (*http.Response, error) {
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, err
	}
	want := resp.Request.URL.Query().Get("digest")
	answer := strings.TrimSpace(resp.Header.Get("Docker-Content-Digest"))
	if answer == "" || strings.EqualFold(answer, want) {
		return resp, nil
	}
	resp.Body.Close()
	host := resp.Request.URL.Host
	return nil, &Error{Registry: host, Msg: fmt.Sprintf(
		"pushing blob %s to %s: the registry answered with digest %s, not the digest of what strata sent",
		oneLine(want), host, oneLine(answer))}
}
