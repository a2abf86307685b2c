package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/strata-run/strata/cache"
)

// busyboxArchive is the busybox layout saved as a docker-archive.
func busyboxArchive(t *testing.T) []byte {
	t.Helper()
	s := newStore(t)
	loaded, err := LoadDir(context.Background(), s, busyboxDir(t), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Save(context.Background(), &out, s, []cache.Ref{{Name: loaded[0].Ref, Descriptor: loaded[0].Manifest}}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// compressWith runs a compressor (xz, bzip2) over b, skipping the test when it is missing.
func compressWith(t *testing.T, b []byte, name string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("no %s here", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(b)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, errOut.String())
	}
	return out.Bytes()
}

// TestLoadBzip2: an archive compressed with bzip2 loads, as docker load reads it (it failed
// with "archive/tar: invalid tar header"), one stream or several.
func TestLoadBzip2(t *testing.T) {
	plain := busyboxArchive(t)
	tests := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"bzip2", func(t *testing.T) []byte { return compressWith(t, plain, "bzip2", "-c") }},
		{"bzip2 -1", func(t *testing.T) []byte { return compressWith(t, plain, "bzip2", "-1", "-c") }},
		{"bzip2 streams", func(t *testing.T) []byte {
			half := len(plain) / 2
			return append(compressWith(t, plain[:half], "bzip2", "-c"), compressWith(t, plain[half:], "bzip2", "-c")...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data(t)
			got, err := Load(context.Background(), newStore(t), bytes.NewReader(data), LoadOptions{})
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if len(got) != 1 || got[0].Ref != "docker.io/library/busybox:1.38.0-musl" {
				t.Errorf("Load = %+v", got)
			}
		})
	}
}

// TestLoadXzRefused: an xz-compressed archive is refused in one line that says what to do:
// the xz decoder allocates whatever dictionary a block header asks for (up to 4 GiB from one
// byte), and a stream can hide such a header from any check made outside the decoder.
func TestLoadXzRefused(t *testing.T) {
	_, err := Load(context.Background(), newStore(t), strings.NewReader("\xfd7zXZ\x00\x00\x04rest of a stream"), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "xz") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Load(xz) = %v, want a one-line refusal naming xz", err)
	}
}

// TestDecompressMagic: only a real header picks a decompressor; "BZ" alone, or "BZh0", is
// the start of some other file.
func TestDecompressMagic(t *testing.T) {
	for _, head := range []string{"BZh", "BZh0", "BZx9", "\xfd7zX", ""} {
		r, done, err := decompress(strings.NewReader(head))
		if err != nil {
			t.Fatalf("decompress(%q) = %v", head, err)
		}
		b, err := io.ReadAll(r)
		done()
		if err != nil || string(b) != head {
			t.Errorf("decompress(%q) read %q, %v; want it as it is", head, b, err)
		}
	}
	if _, _, err := decompress(strings.NewReader("\xfd7zXZ\x00garbage")); err == nil {
		t.Error("decompress of an xz stream succeeded")
	}
	r, done, err := decompress(strings.NewReader("BZh9garbage"))
	if err == nil {
		_, err = io.ReadAll(r)
		done()
	}
	if err == nil || errors.Is(err, io.EOF) {
		t.Errorf("a damaged bzip2 stream read as %v", err)
	}
}
