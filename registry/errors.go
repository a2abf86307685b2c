package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/strata-run/strata/internal/quote"
)

// Sentinels for what callers branch on. Every error this package returns for a registry failure
// is an *Error wrapping exactly one of them, so `errors.Is(err, registry.ErrNotFound)` works
// and the message is already one printable line.
var (
	// ErrUnauthorized: the registry refused the credentials, or wants some and got none. The
	// message tells the user to run `strata login REGISTRY`.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: the manifest, tag, repository or blob does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNoMatchingPlatform: an index has no manifest for the wanted platform. The error is a
	// *PlatformError listing what the index offers.
	ErrNoMatchingPlatform = errors.New("no matching platform")
	// ErrSchema1: the registry served a Docker schema 1 manifest, deprecated since 2017
	// (https://distribution.github.io/distribution/spec/deprecated-schema-v1/).
	ErrSchema1 = errors.New("manifest schema 1 is not supported")
	// ErrManifestTooLarge: a manifest or index is bigger than MaxManifestSize, a config bigger
	// than MaxConfigSize, or one of them holds more values than strata parses (maxJSONValues).
	ErrManifestTooLarge = errors.New("manifest too large")
	// ErrUnsupportedMediaType: the manifest is neither an image manifest nor an index that
	// strata can run (an artifact, a nested index, an unknown type).
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrTooManyRequests: the registry kept answering 429 after every retry.
	ErrTooManyRequests = errors.New("too many requests")
	// ErrUnreachable: the registry could not be reached at all: unknown host, connection
	// refused, TLS failure, timeout.
	ErrUnreachable = errors.New("registry unreachable")
	// ErrNotLoggedIn: Logout found no credentials for the registry. Docker prints "Not logged
	// in to X" and succeeds; the CLI may do the same.
	ErrNotLoggedIn = errors.New("not logged in")
)

// Error is a registry failure worded for one line of output. Kind is one of the sentinels
// above (or nil for a registry error strata has no category for); Err is the underlying
// cause, kept for errors.As (a *transport.Error, a *net.DNSError, …).
type Error struct {
	Kind     error
	Registry string // the host that failed, as printed: "docker.io", "127.0.0.1:5000"
	Msg      string
	Err      error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is match both the sentinel and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// op names what strata was doing, for the messages: "pull" or "push".
type op string

const (
	opPull op = "pull"
	opPush op = "push"
)

func (o op) ing() string { return string(o) + "ing" }

// classify turns an error from go-containerregistry or net/http into an *Error. what names
// the object being fetched ("manifest for docker.io/library/x:latest", "blob sha256:… in …"),
// repo the repository ("docker.io/library/x"), host the registry as printed. Errors that are
// already classified, and context cancellation, pass through unchanged.
func classify(err error, o op, what, repo, host string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e // drop net/http's `Get "url":` around errors our transport made
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return classifyStatus(te, o, what, repo, host)
	}
	if bad, ok := malformedAnswer(err); ok {
		// Before hungUp and connMessage: a ping of a registry allowed plain HTTP tries https
		// too, and that try's error (a hang-up, or "first record does not look like a TLS
		// handshake" with advice to use --insecure) was all that was said to a user whose
		// registry had been spoken to in plain HTTP and had answered with what is not HTTP.
		return &Error{Registry: host, Err: err, Msg: fmt.Sprintf("%s %s: registry %s answered with what is not HTTP: %s", o.ing(), repo, host, bad)}
	}
	if hungUp(err) {
		// Before connMessage: a request cut off while its body was sent is a *net.OpError
		// ("write tcp A->B: use of closed network connection"), one whose answer never came
		// a bare "EOF". Neither said what happened.
		by := "registry " + host
		if at := failedHost(err); at != "" && !isRegistryHost(at, host) {
			by = oneLine(at) + ", where registry " + host + " sent strata,"
		}
		return &Error{Registry: host, Err: err, Msg: fmt.Sprintf("%s %s: %s closed the connection without a complete answer", o.ing(), repo, by)}
	}
	if msg := connMessage(err); msg != "" {
		if at := failedHost(err); at != "" && !isRegistryHost(at, host) {
			return unreachableFor(at, host, msg, err)
		}
		return &Error{Kind: ErrUnreachable, Registry: host, Msg: fmt.Sprintf("registry %s: %s", host, msg), Err: err}
	}
	if bad, ok := unparsableURL(err); ok {
		// A Location of the registry's (an upload's next URL) that is no URL: net/url's words
		// alone ("missing ']' in host") said neither what nor whose it was.
		return &Error{Registry: host, Err: err, Msg: fmt.Sprintf("%s %s: registry %s sent strata to %s, which is not a URL: %s",
			o.ing(), repo, host, bad, oneLine(stripURL(err)))}
	}
	if tokenTooLarge(err) {
		// A token fetched again in the middle of the operation (the first one expired or was
		// refused), whose answer was too long: "body exceeds 65536 byte limit" said neither
		// whose answer nor what for.
		return noTokenError(err, o, repo, host)
	}
	if to, ok := redirectedOffHTTP(err); ok {
		return &Error{Registry: host, Err: err, Msg: fmt.Sprintf("%s %s: registry %s redirected strata to %s, which is not an http or https URL",
			o.ing(), repo, host, to)}
	}
	return &Error{Registry: host, Msg: fmt.Sprintf("%s %s: %s", o.ing(), repo, oneLine(stripURL(err))), Err: err}
}

// malformedAnswer returns net/http's words for an answer it could not read as HTTP: a header
// line with control characters, a status line or status code of garbage. Found in an error
// of the ping's two tries too, where the https one comes first.
func malformedAnswer(err error) (string, bool) {
	var pe textproto.ProtocolError
	if errors.As(err, &pe) {
		return oneLine(string(pe)), true
	}
	// net/http's own words for a status line it cannot parse have no type to look for.
	msg := err.Error()
	if i := strings.Index(msg, "malformed HTTP "); i >= 0 {
		return oneLine(msg[i:]), true
	}
	return "", false
}

// unparsableURL returns, quoted and cut, a URL that the registry named and net/url could not
// parse; only the registry's words (a Location) reach url.Parse in a registry operation.
func unparsableURL(err error) (string, bool) {
	var ue *url.Error
	if !errors.As(err, &ue) || ue.Op != "parse" {
		return "", false
	}
	return quote.Cut(ue.URL, 200), true
}

// redirectedOffHTTP returns where a request went that net/http could not send for its scheme
// (only a registry's redirect leads there: ftp://…, file:///…), without its query, user or
// fragment (a signed URL's secrets), as one line. Its error, `unsupported protocol scheme
// "ftp"` once stripURL dropped the URL, named neither the place nor that it was a redirect.
func redirectedOffHTTP(err error) (string, bool) {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return "", false
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil || u.Scheme == "http" || u.Scheme == "https" || !strings.Contains(ue.Err.Error(), "unsupported protocol scheme") {
		return "", false
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	if u.Opaque != "" { // "javascript:…", "data:…": the scheme says enough
		u.Opaque = "…"
	}
	to := oneLine(u.String())
	if len(to) > 200 {
		to = to[:200] + "…"
	}
	return to, true
}

// failedHost is the host of the request err failed, when net/http says which: a registry's
// token service (its Bearer realm) or where it redirected a request, not always the registry.
func failedHost(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return ""
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return ""
	}
	return u.Host
}

// isRegistryHost reports whether at, a host:port a request went to, is the registry host
// names as strata prints it: itself, or for Docker Hub ("docker.io") the hosts its API is at.
func isRegistryHost(at, host string) bool {
	if strings.EqualFold(at, host) {
		return true
	}
	return host == dockerHub && (strings.EqualFold(at, dockerHubAPI) || strings.EqualFold(at, "registry-1.docker.io"))
}

// unreachableFor words err, msg as connMessage says it, for at, a host other than the
// registry at host that the registry sent strata to (its token service, a redirect): the
// registry answered, and "registry HOST: connection refused" sent users to the wrong host.
func unreachableFor(at, host, msg string, err error) *Error {
	// at is the registry's words (a realm, a Location): url.Parse lets C1 controls through.
	return &Error{Kind: ErrUnreachable, Registry: host, Err: err,
		Msg: fmt.Sprintf("%s, where registry %s sent strata (its token service or a redirect): %s", oneLine(at), host, msg)}
}

// unparsable words a manifest, index or config that does not parse. The parsers quote the
// registry's bytes as they are (go-containerregistry prints the first non-hex rune of a
// digest, a newline included), so the cause goes through oneLine.
func unparsable(host, what string, err error) error {
	return &Error{Registry: host, Msg: what + ": " + oneLine(err.Error()), Err: err}
}

// maxDetail bounds what of a registry's own words goes into a message.
const maxDetail = 512

// oneLine makes text a registry sent (an error body, a token response quoted by
// go-containerregistry) fit the one line strata prints: control characters, newlines and
// terminal escapes included, become spaces, and it is cut at maxDetail bytes. A hostile
// registry must not be able to write to the user's terminal, or to flood it.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		if b.Len() >= maxDetail {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

func classifyStatus(te *transport.Error, o op, what, repo, host string) error {
	codes := map[transport.ErrorCode]bool{}
	for _, d := range te.Errors {
		codes[d.Code] = true
	}
	detail := diagnostics(te)
	if realm, ok := tokenRealm(te); ok && !denied(te, codes) && te.StatusCode != http.StatusTooManyRequests {
		// The token endpoint, not the registry, failed: its 404 says nothing of the image
		// (a realm that moved, or that a misconfigured registry names wrongly), nor its 5xx
		// of the registry. A refusal keeps the wording below: credentials are what to fix.
		if len(te.Errors) > 0 {
			detail = fmt.Sprintf("HTTP %d %s: %s", te.StatusCode, http.StatusText(te.StatusCode), detail)
		}
		return &Error{Registry: host, Err: te, Msg: fmt.Sprintf("fetching a token from %s: %s", realm, detail)}
	}
	// A 404 without NAME_UNKNOWN to a request for a blob, or to one that continues an upload
	// (POST starts one: there is nothing to lose yet), is about the blob or the upload.
	notFound := te.StatusCode == http.StatusNotFound && !codes[transport.NameUnknownErrorCode]
	isUpload := requestPath(te, "/blobs/uploads/") && te.Request.Method != http.MethodPost
	d, isBlob := requestBlob(te)
	if at, ok := redirectedTo(te); ok && isBlob && !notFound && !codes[transport.BlobUnknownErrorCode] &&
		te.StatusCode != http.StatusTooManyRequests {
		// The host the registry sent a blob GET on to (a CDN, with a URL the registry signed)
		// refused it or failed: neither credentials nor the registry are what to blame, as
		// the wording below would (a signed URL that expired is a 403).
		if len(te.Errors) > 0 {
			detail = fmt.Sprintf("HTTP %d %s: %s", te.StatusCode, http.StatusText(te.StatusCode), detail)
		}
		msg := fmt.Sprintf("blob %s: %s from %s (redirected from %s)", shortDigest(d), detail, at, host)
		if !strings.HasPrefix(what, "blob ") {
			msg = what + ": " + msg
		}
		return &Error{Registry: host, Err: te, Msg: msg}
	}
	if te.StatusCode == http.StatusNotFound && te.Request != nil && te.Request.URL != nil && firstRequest(te.Request).URL.Path == "/v2/" {
		// The ping: every registry answers /v2/, so a 404 there is no repository's absence
		// but no registry API at that address (a web server, another port), which "repository
		// X not found" hid.
		return &Error{Kind: ErrNotFound, Registry: host, Err: te, Msg: fmt.Sprintf(
			"%s %s: %s answered HTTP 404 to /v2/, where every registry answers: no registry there (a web server, or another port?)", o.ing(), repo, host)}
	}
	switch {
	case denied(te, codes):
		// Docker Hub answers 401 for a repository that does not exist when the client is
		// anonymous, so the message cannot claim which of the two it is.
		return &Error{Kind: ErrUnauthorized, Registry: host, Err: te, Msg: fmt.Sprintf(
			"%s access denied for %s: repository does not exist or authentication required (%s); run `strata login %s`",
			o, repo, detail, host)}
	case codes[transport.BlobUploadUnknownErrorCode] || notFound && isUpload:
		// Not the repository: the registry forgot an upload it had started (restarted without
		// shared storage, or purged it as stale).
		blob := "a blob"
		if te.Request != nil && te.Request.URL != nil {
			if d := te.Request.URL.Query().Get("digest"); d != "" { // the PUT that commits it
				blob = "blob " + shortDigest(d)
			}
		}
		return &Error{Kind: ErrNotFound, Registry: host, Err: te, Msg: fmt.Sprintf(
			"%s %s: registry %s lost the upload of %s (%s)", o.ing(), repo, host, blob, detail)}
	case codes[transport.BlobUnknownErrorCode] || notFound && isBlob:
		// A blob the manifest names, not the repository, is what the registry lacks.
		if !isBlob { // BLOB_UNKNOWN to a request for no one blob: a manifest's, say
			return &Error{Kind: ErrNotFound, Registry: host, Err: te, Msg: fmt.Sprintf(
				"%s: registry %s lacks a blob it names (%s)", what, host, detail)}
		}
		msg := fmt.Sprintf("blob %s not found in %s", shortDigest(d), repo)
		if at, ok := redirectedTo(te); ok {
			// The registry sent the GET on to another host (Docker Hub to its CDN), and that
			// one lacks the blob: the registry's storage and its CDN disagree.
			msg = fmt.Sprintf("blob %s not found at %s (redirected from %s)", shortDigest(d), at, host)
		}
		if !strings.HasPrefix(what, "blob ") {
			msg = what + ": " + msg
		}
		return &Error{Kind: ErrNotFound, Registry: host, Err: te, Msg: msg}
	case o == opPush && (te.StatusCode == http.StatusNotFound || codes[transport.NameUnknownErrorCode]) &&
		te.Request != nil && te.Request.Method != http.MethodGet && te.Request.Method != http.MethodHead:
		// A write refused for the repository: registries that do not create one on push (ECR,
		// a Harbor project that is not there) say so in their words, which "repository X not
		// found" dropped, and what to do was left unsaid.
		return &Error{Kind: ErrNotFound, Registry: host, Err: te, Msg: fmt.Sprintf(
			"pushing %s: registry %s has no such repository and did not create it (%s); create it in the registry first",
			repo, host, detail)}
	case te.StatusCode == http.StatusNotFound || codes[transport.ManifestUnknownErrorCode] ||
		codes[transport.NameUnknownErrorCode]:
		return &Error{Kind: ErrNotFound, Registry: host, Err: te, Msg: what + " not found"}
	case te.StatusCode == http.StatusTooManyRequests || codes[transport.TooManyRequestsErrorCode]:
		return &Error{Kind: ErrTooManyRequests, Registry: host, Err: te, Msg: fmt.Sprintf(
			"registry %s: too many requests, still refused after retrying (%s); wait and try again, or log in for a higher limit", host, detail)}
	}
	if len(te.Errors) > 0 {
		detail = fmt.Sprintf("HTTP %d %s: %s", te.StatusCode, http.StatusText(te.StatusCode), detail)
	}
	return &Error{Registry: host, Err: te, Msg: fmt.Sprintf("%s %s: registry %s: %s", o.ing(), what, host, detail)}
}

// denied reports whether te is the registry refusing the credentials, or wanting some.
func denied(te *transport.Error, codes map[transport.ErrorCode]bool) bool {
	return te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden ||
		codes[transport.UnauthorizedErrorCode] || codes[transport.DeniedErrorCode]
}

// firstRequest returns the request that a chain of redirects started from: a request that
// http.Client made to follow a redirect carries the response that caused it.
func firstRequest(r *http.Request) *http.Request {
	for n := 0; r.Response != nil && r.Response.Request != nil && n <= maxRedirects; n++ {
		r = r.Response.Request
	}
	return r
}

// redirectedTo returns the host that answered te if the registry redirected the request there
// (a blob GET to a CDN), printed as one line: the host comes from the registry's Location.
func redirectedTo(te *transport.Error) (string, bool) {
	if te.Request == nil || te.Request.URL == nil {
		return "", false
	}
	first := firstRequest(te.Request)
	if first.URL == nil || first.URL.Host == te.Request.URL.Host {
		return "", false
	}
	return oneLine(te.Request.URL.Host), true
}

// tokenRealm returns the token endpoint (the realm of a Bearer challenge) that te's request
// asked for a token, without the query go-containerregistry adds, or false if te answers a
// request to the registry's API. go-containerregistry asks a realm with a GET whose query
// always has "service" (empty or not), or with a POSTed form (OAuth 2): no request of the API
// has either. A realm that redirected says where to.
func tokenRealm(te *transport.Error) (string, bool) {
	if te.Request == nil || te.Request.URL == nil {
		return "", false
	}
	first := firstRequest(te.Request)
	if first.URL == nil {
		return "", false
	}
	switch {
	case first.Method == http.MethodGet && first.URL.Query().Has("service"):
	case first.Method == http.MethodPost && strings.HasPrefix(first.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
	default:
		return "", false
	}
	realm := oneLine((&url.URL{Scheme: first.URL.Scheme, Host: first.URL.Host, Path: first.URL.Path}).String())
	if at, ok := redirectedTo(te); ok {
		realm += " (redirected to " + at + ")"
	}
	return realm, true
}

// requestPath reports whether the request that te answers has sub in its path.
func requestPath(te *transport.Error, sub string) bool {
	return te.Request != nil && te.Request.URL != nil && strings.Contains(te.Request.URL.Path, sub)
}

// requestBlob returns the digest of the blob that te's request asked for (…/blobs/DIGEST).
// A request redirected elsewhere (a CDN's URL, which need not name the digest) is the blob
// GET it started from.
func requestBlob(te *transport.Error) (string, bool) {
	if te.Request == nil || te.Request.URL == nil {
		return "", false
	}
	first := firstRequest(te.Request)
	if first.URL == nil {
		return "", false
	}
	// The element before the last: a repository may be named "org/blobs/app".
	if endpointWord(first.URL.Path) != "blobs" {
		return "", false // an upload's ("/blobs/uploads/…"), or no blob's
	}
	d := first.URL.Path[strings.LastIndexByte(first.URL.Path, '/')+1:]
	return d, d != ""
}

// shortDigest prints a digest as "sha256:" and its first 12 hex digits, as docker prints
// layers; what does not parse as a digest is printed as one line.
func shortDigest(d string) string {
	h, err := v1.NewHash(d)
	if err != nil {
		return oneLine(d)
	}
	if len(h.Hex) > 12 {
		h.Hex = h.Hex[:12]
	}
	return h.Algorithm + ":" + h.Hex
}

// diagnostics prints a registry error without the request URL, which for blobs on a CDN can
// be hundreds of characters of signed query string.
func diagnostics(te *transport.Error) string {
	if len(te.Errors) == 0 {
		return fmt.Sprintf("HTTP %d %s", te.StatusCode, http.StatusText(te.StatusCode))
	}
	parts := make([]string, 0, len(te.Errors))
	for _, d := range te.Errors {
		if d.Message == "" {
			parts = append(parts, string(d.Code)) // not "CODE: "
			continue
		}
		part := string(d.Code) + ": " + d.Message
		// A detail that is text is the registry's words ("unsupported media type"); one of
		// another kind is data for programs, which go-containerregistry's %v printed as Go
		// maps: every push refused by a distribution registry ended "; [map[Action:pull
		// Class: Name:app Type:repository] …]". docker prints no detail at all.
		switch v := d.Detail.(type) {
		case string:
			if v != "" {
				part += "; " + v
			}
		case float64, bool:
			part += fmt.Sprintf("; %v", v)
		}
		parts = append(parts, part)
	}
	return oneLine(strings.Join(parts, "; "))
}

// hungUp reports whether err is the registry's closing the connection, or resetting it, before
// its answer came (not a failure to connect, which connMessage words).
func hungUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// connMessage words a failure to reach the registry, or returns "" if err is not one.
func connMessage(err error) string {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		// The name may come from a registry's redirect: url.Parse lets C1 controls through.
		return fmt.Sprintf("unknown host %s", oneLine(dnsErr.Name))
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &recordErr):
		return "tls: server does not speak TLS (use --insecure, or add it to the insecure registries, for plain HTTP)"
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert), errors.As(err, &verifyErr):
		return fmt.Sprintf("tls: %s (use --insecure, or add it to the insecure registries, to skip verification)", tlsCause(err))
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("looking up %s: %s", oneLine(dnsErr.Name), oneLine(dnsErr.Err))
	}
	// Looked for first: a ping that tried https and then http holds both errors, and the
	// https one (a *url.Error, a net.Error too) would hide the stall of the other.
	var stall *stallError
	var ne net.Error
	if errors.As(err, &stall) {
		// How long: the user waited that, once retried, and "timed out" alone did not say
		// whether strata had given up at once or after minutes.
		return fmt.Sprintf("timed out (nothing from it for %s)", stall.limit)
	}
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oneLine(stripURL(oe.Err))
	}
	return ""
}

// tlsCause is the server's certificate's words too: Go quotes the names it claims as they are.
func tlsCause(err error) string {
	var verifyErr *tls.CertificateVerificationError
	if errors.As(err, &verifyErr) && verifyErr.Err != nil {
		return oneLine(verifyErr.Err.Error())
	}
	return oneLine(stripURL(err))
}

// stripURL drops the `Get "https://…":` prefix net/http puts on every transport error.
func stripURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
