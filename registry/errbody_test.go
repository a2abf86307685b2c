package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// hugeErrorBody is the size of the error bodies the tests below send: far past the 64 KiB
// go-containerregistry reads of one.
const hugeErrorBody = 10 << 20

// writeHugeError answers status with a body of hugeErrorBody bytes: a registry error whose
// message is megabytes long when code is set, else bytes that are not JSON.
func writeHugeError(w http.ResponseWriter, status int, code string) {
	head, tail := "<html>", "</html>"
	if code != "" {
		head, tail = `{"errors":[{"code":"`+code+`","message":"`, `"}]}`
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	io.WriteString(w, head)
	fill := strings.Repeat("x", 64<<10)
	for n := len(head) + len(tail); n < hugeErrorBody; n += len(fill) {
		if _, err := io.WriteString(w, fill); err != nil {
			return // the client stopped reading: what this test wants
		}
	}
	io.WriteString(w, tail)
}

// TestHugeErrorBodyOnPull: a refusal of a manifest GET, a blob GET or a token GET with a body
// of megabytes is reported as the refusal (its status, and its code when the body's first
// 64 KiB hold one), not as go-containerregistry's "body exceeds 65536 byte limit".
func TestHugeErrorBodyOnPull(t *testing.T) {
	codes := map[int]string{
		http.StatusNotFound:            "MANIFEST_UNKNOWN",
		http.StatusUnauthorized:        "UNAUTHORIZED",
		http.StatusForbidden:           "DENIED",
		http.StatusTooManyRequests:     "TOOMANYREQUESTS",
		http.StatusInternalServerError: "UNKNOWN",
	}
	for _, target := range []string{"manifest", "blob", "token"} {
		for _, status := range []int{404, 401, 403, 429, 500} {
			for _, isJSON := range []bool{true, false} {
				code := ""
				if isJSON {
					code = codes[status]
					if status == http.StatusNotFound && target == "blob" {
						code = "BLOB_UNKNOWN"
					}
					if status == http.StatusNotFound && target == "token" {
						code = "NAME_UNKNOWN"
					}
				}
				t.Run(fmt.Sprintf("%s/%d/json=%v", target, status, isJSON), func(t *testing.T) {
					err := hugeErrorPull(t, target, status, code)
					checkHugeError(t, err, target, status, code)
				})
			}
		}
	}
}

// hugeErrorPull pulls from a registry that refuses target ("manifest", "blob" or "token")
// with status and a huge body, and returns the pull's error.
func hugeErrorPull(t *testing.T, target string, status int, code string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	img := randomImage(t)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layer := digestOf(t, layers[0])
	var refuse atomic.Bool
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !refuse.Load() {
				next.ServeHTTP(w, r)
				return
			}
			switch {
			case target == "token" && r.URL.Path == "/v2/":
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host))
				w.WriteHeader(http.StatusUnauthorized)
			case target == "token" && r.URL.Path == "/token",
				target == "manifest" && strings.Contains(r.URL.Path, "/manifests/"),
				target == "blob" && strings.HasSuffix(r.URL.Path, "/blobs/"+layer.String()):
				writeHugeError(w, status, code)
			default:
				next.ServeHTTP(w, r)
			}
		})
	})
	ref := pushImage(t, host+"/huge/err:1", img)
	refuse.Store(true)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(ctx, ref)
	if target != "blob" {
		if err == nil {
			t.Fatalf("Image = no error, want the registry's refusal")
		}
		return err
	}
	if err != nil {
		t.Fatalf("Image = %v", err)
	}
	rc, err := got.FetchBlob(ctx, layer, 0)
	if err == nil {
		rc.Close()
		t.Fatalf("FetchBlob = no error, want the registry's refusal")
	}
	return err
}

func checkHugeError(t *testing.T, err error, target string, status int, code string) {
	t.Helper()
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "exceeds") || strings.Contains(msg, "byte limit") {
		t.Errorf("error = %q, want the registry's refusal, not the body's size", msg)
	}
	if strings.ContainsAny(msg, "\n\r") || len(msg) > 1024 {
		t.Errorf("error is %d bytes or several lines, want one short line", len(msg))
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %q holds no *transport.Error", msg)
	}
	if te.StatusCode != status {
		t.Errorf("status = %d, want %d", te.StatusCode, status)
	}
	if code != "" && (len(te.Errors) == 0 || string(te.Errors[0].Code) != code) {
		t.Errorf("registry errors = %v, want code %s", te.Errors, code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %q is no *Error", msg)
	}
	switch status {
	case http.StatusNotFound:
		if target == "token" {
			// The token endpoint's 404 says nothing of the image: it names the realm.
			if errors.Is(err, ErrNotFound) || !strings.HasPrefix(msg, "fetching a token from ") {
				t.Errorf("error %q is ErrNotFound or does not name the token endpoint", msg)
			}
		} else if !errors.Is(err, ErrNotFound) {
			t.Errorf("error %q is not ErrNotFound", msg)
		}
	case http.StatusUnauthorized, http.StatusForbidden:
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("error %q is not ErrUnauthorized", msg)
		}
	case http.StatusTooManyRequests:
		if !errors.Is(err, ErrTooManyRequests) {
			t.Errorf("error %q is not ErrTooManyRequests", msg)
		}
	default:
		if !strings.Contains(msg, fmt.Sprint(status)) && (code == "" || !strings.Contains(msg, code)) {
			t.Errorf("error %q names neither HTTP %d nor %s", msg, status, code)
		}
	}
	if status != http.StatusNotFound && code != "" && !strings.Contains(msg, code) {
		t.Errorf("error %q does not name the registry's code %s", msg, code)
	}
}
