package serve

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes of the distribution spec (spec.md#error-codes) that a read-only registry uses.
const (
	codeNameInvalid     = "NAME_INVALID"
	codeNameUnknown     = "NAME_UNKNOWN"
	codeManifestUnknown = "MANIFEST_UNKNOWN"
	codeManifestInvalid = "MANIFEST_INVALID"
	codeBlobUnknown     = "BLOB_UNKNOWN"
	codeDigestInvalid   = "DIGEST_INVALID"
	codeUnsupported     = "UNSUPPORTED"
	codePaginationInv   = "PAGINATION_NUMBER_INVALID"
	codeTagInvalid      = "TAG_INVALID"
	codeUnknown         = "UNKNOWN"
)

// apiError is one entry of the spec's error body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError answers with status and the spec's {"errors": [...]} body. A HEAD gets the status
// and headers only, as HTTP requires.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	body, _ := json.Marshal(struct {
		Errors []apiError `json:"errors"`
	}{[]apiError{{Code: code, Message: msg}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Set for HEAD too, so that it has the GET's headers; a handler that set headers for a
	// success (ServeContent's, a blob's) leaves none of them on the error.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Docker-Content-Digest")
	h.Del("Etag")
	h.Del("Cache-Control")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
