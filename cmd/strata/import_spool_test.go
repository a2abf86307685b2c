package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/strata-run/strata/layers"
)

// endless is a stdin that never ends: block over and over, counting what was read.
type endless struct {
	block []byte
	off   int
	read  atomic.Int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], e.block[e.off:])
		n += c
		e.off = (e.off + c) % len(e.block)
	}
	e.read.Add(int64(n))
	return n, nil
}

// TestImportEndlessStdin: import reads the tarball's headers as it copies it into the layer
// file, as docker's import applies it while reading: a stream that is no tar at all (the wrong
// file, /dev/urandom, a program's output) fails at its first header, and one of entries that
// never ends at the layer's bound on entries, instead of both being copied whole up to the 64
// GiB a layer may take (here the 64 MiB STRATA_MAX_LAYER_SIZE gives) before the unpack looked
// at them.
func TestImportEndlessStdin(t *testing.T) {
	t.Setenv("STRATA_MAX_LAYER_SIZE", "67108864")
	defer func(n int) { importMaxEntries = n }(importMaxEntries)
	importMaxEntries = 1000

	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "f", Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		block []byte
		want  string
	}{
		{"not a tar", bytes.Repeat([]byte("not a tar\n"), 1000), "reading first tar header: archive/tar: invalid tar header"},
		{"entries without end", hdr.Bytes(), layers.ErrTooManyEntries.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &endless{block: tc.block}
			g := &globals{}
			cmd := newRootCmd(g)
			var out, errOut bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&errOut)
			cmd.SetIn(in)
			cmd.SetArgs([]string{"--root", t.TempDir(), "import", "-", "endless:1"})
			err := cmd.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("import = %v; want one line with %q", err, tc.want)
			}
			if n := in.read.Load(); n > 8<<20 {
				t.Errorf("import read %d MiB of stdin before failing; want it to stop at the first bad header", n>>20)
			}
		})
	}
}

// cancelAfter cancels its context once n bytes were read from it, and goes on giving zeros:
// the Ctrl-C of `cat /dev/zero | strata import -`.
type cancelAfter struct {
	n      int64
	cancel context.CancelFunc
	read   atomic.Int64
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	clear(p)
	if c.read.Add(int64(len(p))) >= c.n {
		c.cancel()
	}
	return len(p), nil
}

// TestImportCanceledWhileReading: the first Ctrl-C (strata's context) ends an import still
// reading its tarball, as it ends every command: an endless stdin (zeros, the end of a tar
// and then more) was read on, up to the 64 GiB a layer may take, and only a second Ctrl-C,
// which ends strata as if it caught none, stopped it.
func TestImportCanceledWhileReading(t *testing.T) {
	t.Setenv("STRATA_MAX_LAYER_SIZE", "67108864")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := &cancelAfter{n: 1 << 20, cancel: cancel}
	cmd := newRootCmd(&globals{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(in)
	cmd.SetArgs([]string{"--root", t.TempDir(), "import", "-", "zeros:1"})
	err := cmd.ExecuteContext(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("import = %v; want it canceled", err)
	}
	if n := in.read.Load(); n > 8<<20 {
		t.Errorf("import read %d MiB of stdin after it was canceled at 1 MiB", n>>20)
	}
}
