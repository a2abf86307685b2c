package main

import (
	"archive/tar"
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestImportURLPasswordHidden: import of a URL given with user:password@ never shows the
// password: not in its errors, and not in the image it makes, whose history says "Imported
// from" the URL (docker's comment), with the password as xxxxx as net/url redacts it. The
// image's config goes wherever the image is saved or pushed; it held the password as typed,
// and every error of the import printed it.
func TestImportURLPasswordHidden(t *testing.T) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok.tar" {
			http.NotFound(w, r)
			return
		}
		w.Write(tb.Bytes())
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	root := t.TempDir()
	if _, err := strata(t, root, nil, "import", "http://alice:s3cret@"+host+"/ok.tar", "imported:1"); err != nil {
		t.Fatalf("import: %v", err)
	}
	out, err := strata(t, root, nil, "history", "--no-trunc", "--format", "{{.Comment}}", "imported:1")
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if want := "Imported from http://alice:xxxxx@" + host + "/ok.tar"; strings.TrimSpace(out) != want {
		t.Errorf("history's comment = %q, want %q", out, want)
	}
	for _, src := range []string{
		"http://alice:s3cret@" + host + "/missing.tar",
		"http://alice:s3cret@127.0.0.1:1/x.tar",
		"http://alice:s3cret@[::1",
		"ftp://alice:s3cret@" + host + "/x.tar",
		"http://alice:s3cret@" + host + "/a@b.tar",
	} {
		_, err := strata(t, root, nil, "import", src, "x:1")
		if err == nil {
			t.Errorf("import %s succeeded", src)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("import %s: %q, want one line without the password", src, err)
		}
	}
}
