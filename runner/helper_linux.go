package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The helpers (the container's init, the detached monitor, exec's namespace joiner and
// --init's reaper) are all runner code. Re-executing the whole strata binary for them costs
// what the CLI costs to start: ~7 ms here for an 18 MB binary whose registry, TLS and HTTP
// packages initialise before main. A binary holding only this package (internal/cmd/
// strata-init, ~3 MB) starts in ~2 ms, and a monitor made from it is smaller in memory.
// `make build` embeds that binary in strata; a strata built without it re-executes itself.

// helperBinary is an embedded helper program and where it is kept on disk.
type helperBinary struct {
	program []byte
	digest  string // hex sha256 of program
	dir     string
}

var (
	helperMu sync.Mutex
	helper   *helperBinary
)

// UseHelper makes this process start its helpers from program, a build of
// internal/cmd/strata-init, instead of from its own binary. program is written once to dir
// (as strata-helper-<digest>, atomically, checked against digest, the hex sha256 of program;
// an empty digest is computed) and every start execs it through a read-only bind, as the
// binary itself would be (see sealedExe). A nil or empty program keeps the default.
func UseHelper(program []byte, digest, dir string) {
	helperMu.Lock()
	defer helperMu.Unlock()
	if len(program) == 0 {
		helper = nil
		return
	}
	helper = &helperBinary{program: program, digest: digest, dir: dir}
}

func currentHelper() *helperBinary {
	helperMu.Lock()
	defer helperMu.Unlock()
	return helper
}

// open returns a protected fd of the helper program (above sealedExeFD's floor): a read-only
// bind of the file in dir, or a sealed memfd copy when the file cannot be written or bound.
func (h *helperBinary) open() (int, error) {
	path, err := h.file()
	if err == nil {
		if fd, err := readOnlyExe(path); err == nil {
			return fd, nil
		}
	}
	return sealedCopy(bytes.NewReader(h.program))
}

// file returns the path of the helper on disk, writing it the first time.
func (h *helperBinary) file() (string, error) {
	digest := h.digest
	if digest == "" {
		sum := sha256.Sum256(h.program)
		digest = hex.EncodeToString(sum[:])
	}
	if len(digest) != sha256.Size*2 {
		return "", fmt.Errorf("helper digest %q is not a sha256", digest)
	}
	path := filepath.Join(h.dir, "strata-helper-"+digest[:32])
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == int64(len(h.program)) {
		return path, nil
	}
	// First use: check the program against its digest before it can be executed.
	if sum := sha256.Sum256(h.program); hex.EncodeToString(sum[:]) != digest {
		return "", errors.New("embedded helper does not match its digest")
	}
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		return "", fmt.Errorf("writing helper: %w", err)
	}
	if err := writeFileAtomic(path, h.program, 0o555); err != nil {
		return "", err
	}
	removeOtherHelpers(h.dir, filepath.Base(path))
	return path, nil
}

// staleHelperAge is how long another build's helper stays in the helpers dir after it was
// written: two strata builds used in turn (an installed one and a development one) must not
// delete and rewrite each other's helper on every start.
const staleHelperAge = 24 * time.Hour

// removeOtherHelpers deletes the helpers of other strata builds from dir (a tmpfs: each one
// is 3 MB of memory) once they are older than staleHelperAge, now that this build's is
// written. Processes running one keep it: an exec'd file lives on until they exit. A strata
// that still wants its own writes it again.
func removeOtherHelpers(dir, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		// ".strata-helper-….tmp-…" are writes that a crash interrupted, or that another
		// strata of this build is making right now (kept).
		base := strings.TrimPrefix(name, ".")
		if base == keep || strings.HasPrefix(base, keep+".tmp-") || !strings.HasPrefix(base, "strata-helper-") || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < staleHelperAge {
			continue
		}
		_ = os.Remove(filepath.Join(dir, name))
	}
}
