package snapshotter

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/safefile"
)

// printsDir holds a fingerprint per layer dir, <root>/.prints/<DiffID hex>, taken when the
// layer is unpacked: beside the layer dir, never in it (the layer dir is the container's
// filesystem). A layer dir emptied or partly deleted after its unpack (a user's rm -rf, a disk
// tool) is still a dir under its DiffID, which Has takes for complete; Ensure compares the
// fingerprint, finds the damage and unpacks the layer again from its blob.
//
// A fingerprint is a symlink whose target holds the number of entries at the layer's top
// level and two digests: of the inode and change time of the layer's root and of each dir at
// its top level (the first maxPrintDirs by name), and of the names in those dirs. The target
// fits in the inode (ext4 keeps targets under 60 bytes there), so a fingerprint takes no data
// block, as proofs take none (provenDir), and reads in one readlink. The check on the run path
// reads the layer's root and stats its top-level dirs: a name added, removed or renamed in one
// of those changes its change time, and a dir replaced changes its inode. Only when the stats
// digest differs are the dirs' names read and compared, so a change that leaves the names (a
// chmod, a store copied with cp -a or restored from a backup: new inodes and times) is not
// damage; the new stats are then recorded. What it cannot see: a file deleted two levels down
// or deeper (usr/lib/x, where bin/sh and usr are seen), and a file's content changed; finding
// those would walk the tree, whose cost grows with the layer.
const printsDir = ".prints"

// printsVersion starts every fingerprint; one of another form is taken for damage (the layer
// is unpacked again, and fingerprinted anew).
const printsVersion = "p1"

// maxPrintDirs is how many of a layer's top-level dirs (in name order) its fingerprint
// covers; a base layer has some 20. It bounds the stats a check makes, whatever a hostile
// layer holds; the names at the top level are covered whatever their number.
const maxPrintDirs = 64

// ErrLayerDamaged: a layer dir no longer holds what its unpack put there, and its blob could
// not be read to unpack it again. It comes wrapped in a *DamagedError.
var ErrLayerDamaged = errors.New("layer dir damaged since its unpack")

// DamagedError says which layer is damaged and how, and why it could not be unpacked again.
type DamagedError struct {
	DiffID v1.Hash
	// How is what the check found ("its top level holds 0 entries of 18").
	How string
	// Err is why the blob could not be opened.
	Err error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("layer %s: %v (%s), and its blob cannot be read to unpack it again: %v", short(e.DiffID), ErrLayerDamaged, e.How, e.Err)
}

// Unwrap matches ErrLayerDamaged and the blob's error.
func (e *DamagedError) Unwrap() []error { return []error{ErrLayerDamaged, e.Err} }

// layerPrint is a layer dir's fingerprint.
type layerPrint struct {
	count int      // entries at the top level
	stats [16]byte // inode and change time of the root and the top-level dirs
	names [16]byte // names in the root and the top-level dirs
}

func (p layerPrint) String() string {
	enc := base64.RawURLEncoding
	return printsVersion + ":" + strconv.Itoa(p.count) + ":" + enc.EncodeToString(p.stats[:]) + ":" + enc.EncodeToString(p.names[:])
}

func parsePrint(s string) (layerPrint, error) {
	var p layerPrint
	f := strings.Split(s, ":")
	if len(f) != 4 || f[0] != printsVersion {
		return p, errors.New("is of an unknown form")
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 {
		return p, errors.New("has a bad count")
	}
	p.count = n
	for i, d := range []*[16]byte{&p.stats, &p.names} {
		b, err := base64.RawURLEncoding.DecodeString(f[2+i])
		if err != nil || len(b) != len(d) {
			return p, errors.New("has a bad digest")
		}
		copy(d[:], b)
	}
	return p, nil
}

// intactState is what the check of a layer dir found.
type intactState int

const (
	intactOK      intactState = iota // as unpacked
	intactUnknown                    // no fingerprint: unpacked before they existed
	intactDamaged
)

func (s *Snapshotter) printPath(hex string) string {
	return filepath.Join(s.root, printsDir, hex)
}

// intact checks diffID's layer dir (which exists) against its fingerprint; how says what
// differs when it is damaged.
func (s *Snapshotter) intact(diffID v1.Hash) (state intactState, how string) {
	target, err := os.Readlink(s.printPath(diffID.Hex))
	if err != nil {
		// None (unpacked before fingerprints), or unreadable: it proves nothing either way,
		// and the dir is used as before.
		return intactUnknown, ""
	}
	want, err := parsePrint(target)
	if err != nil {
		return intactDamaged, "its fingerprint " + err.Error()
	}
	dir := s.LayerDir(diffID)
	got, dirs, err := statPrint(dir)
	if err == nil && got.stats == want.stats {
		return intactOK, ""
	}
	if err == nil {
		err = namePrint(dir, dirs, &got)
	}
	if err != nil {
		if _, serr := os.Lstat(dir); errors.Is(serr, fs.ErrNotExist) {
			// Gone as a whole (a prune meanwhile): not unpacked, as Has would say now.
			return intactUnknown, ""
		}
		return intactDamaged, err.Error()
	}
	switch {
	case got.count != want.count:
		return intactDamaged, fmt.Sprintf("its top level holds %d entries of %d", got.count, want.count)
	case got.names != want.names:
		return intactDamaged, "names at its top level or one level down differ"
	}
	// The same names under new stats: the dir was copied, restored or chmodded. Recorded,
	// so the next check is the quick one; a store that cannot be written checks again.
	_ = writePrint(s.printPath(diffID.Hex), got)
	return intactOK, ""
}

// statPrint reads the root of the layer dir dir: the count and stats digest of its
// fingerprint, and its top-level dirs (sorted, at most maxPrintDirs) for namePrint.
func statPrint(dir string) (layerPrint, []string, error) {
	var p layerPrint
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
	if err != nil {
		return p, nil, fmt.Errorf("reading its top level: %w", unwrapPath(err))
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return p, nil, fmt.Errorf("reading its top level: %w", err)
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return p, nil, fmt.Errorf("reading its top level: %w", unwrapPath(err))
	}
	p.count = len(entries)
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	slices.Sort(dirs)
	if len(dirs) > maxPrintDirs {
		dirs = dirs[:maxPrintDirs]
	}
	h := sha256.New()
	var b [16]byte
	stamp := func(st *unix.Stat_t) {
		binary.LittleEndian.PutUint64(b[:8], st.Ino)
		binary.LittleEndian.PutUint64(b[8:], uint64(st.Ctim.Nano()))
		h.Write(b[:])
	}
	stamp(&st)
	for _, d := range dirs {
		if err := unix.Fstatat(int(f.Fd()), d, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return p, nil, fmt.Errorf("reading %q: %w", d, err)
		}
		h.Write([]byte(d))
		h.Write([]byte{0})
		stamp(&st)
	}
	copy(p.stats[:], h.Sum(nil))
	return p, dirs, nil
}

// namePrint sets p's names digest: the names in the layer dir dir's root and in its dirs.
func namePrint(dir string, dirs []string, p *layerPrint) error {
	h := sha256.New()
	for _, d := range append([]string{"."}, dirs...) {
		f, err := os.OpenFile(filepath.Join(dir, d), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
		if err != nil {
			return fmt.Errorf("reading %q: %w", d, unwrapPath(err))
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return fmt.Errorf("reading %q: %w", d, unwrapPath(err))
		}
		slices.Sort(names)
		h.Write([]byte(d))
		h.Write([]byte{0})
		fmt.Fprintf(h, "%d\x00", len(names))
		for _, n := range names {
			h.Write([]byte(n))
			h.Write([]byte{0})
		}
	}
	copy(p.names[:], h.Sum(nil))
	return nil
}

// takePrint fingerprints the layer dir dir.
func takePrint(dir string) (layerPrint, error) {
	p, dirs, err := statPrint(dir)
	if err == nil {
		err = namePrint(dir, dirs, &p)
	}
	return p, err
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// recordPrint fingerprints diffID's layer dir as it is now. The caller holds its lock.
func (s *Snapshotter) recordPrint(diffID v1.Hash) error {
	p, err := takePrint(s.LayerDir(diffID))
	if err == nil {
		err = writePrint(s.printPath(diffID.Hex), p)
	}
	if err != nil {
		return fmt.Errorf("fingerprinting layer %s: %w", short(diffID), err)
	}
	return nil
}

// recordPrintLate fingerprints a layer dir unpacked before fingerprints existed, once, where
// no unpack of it runs (its lock is free) and the store can be written; otherwise it is left
// for a later run.
func (s *Snapshotter) recordPrintLate(diffID v1.Hash) {
	lock, ok, err := s.tryLockLayer(diffID.Hex)
	if err != nil || !ok {
		return
	}
	defer lock.Unlock()
	if _, err := os.Lstat(s.printPath(diffID.Hex)); err == nil || !s.Has(diffID) {
		return
	}
	_ = s.recordPrint(diffID)
}

// writePrint makes the fingerprint's symlink aside and renames it into place, then syncs its
// dir (a symlink cannot be fsynced; the dir's sync commits it with the rename).
func writePrint(path string, p layerPrint) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := safefile.OwnDirs("the layer store", dir); err != nil {
		return err
	}
	tmp := filepath.Join(dir, fmt.Sprintf("%s%d-%x", tmpPrefix, os.Getpid(), rand.Uint64()))
	if err := os.Symlink(p.String(), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir, false)
}

// damagedPrefix starts the name of a damaged layer dir that an unpack replaced:
// .damaged-<hex>-<ns>. A container started before the replacement may still have it as an
// overlay lower, so it is not deleted then; Prune removes it once no image or container needs
// its DiffID (and so no container can be using it).
const damagedPrefix = ".damaged-"

// replaceDamaged puts the fresh unpack tmp in place of final, the damaged layer dir, which
// goes aside under a .damaged- name, never deleted here (a running container may have it as
// a lower). The fresh dir takes the aside name first, and is exchanged with the damaged one
// (RENAME_EXCHANGE): the layer dir's path never lacks a dir, so a run preparing its mounts
// meanwhile finds one or the other, and no failure leaves the damaged dir under a name that a
// cleanup deletes. On error the fresh dir is back at tmp, for the caller to remove.
func (s *Snapshotter) replaceDamaged(tmp, final string, diffID v1.Hash) error {
	aside := func() string {
		return filepath.Join(s.root, fmt.Sprintf("%s%s-%d", damagedPrefix, diffID.Hex, time.Now().UnixNano()))
	}
	fresh := aside()
	if err := os.Rename(tmp, fresh); err != nil {
		return fmt.Errorf("renaming into place: %w", err)
	}
	err := unix.Renameat2(unix.AT_FDCWD, fresh, unix.AT_FDCWD, final, unix.RENAME_EXCHANGE)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
		return errors.Join(fmt.Errorf("replacing the damaged layer dir: %w", err), os.Rename(fresh, tmp))
	}
	// A filesystem without exchange: the damaged dir aside, then the fresh one in.
	if err := os.Rename(final, aside()); err != nil {
		return errors.Join(fmt.Errorf("moving the damaged layer dir aside: %w", err), os.Rename(fresh, tmp))
	}
	if err := os.Rename(fresh, final); err != nil {
		// No layer dir now: the next unpack makes it; the fresh dir goes with the damaged.
		return fmt.Errorf("renaming into place: %w", err)
	}
	return nil
}

// damagedHex returns the DiffID hex in a .damaged-<hex>-* name, or "".
func damagedHex(name string) string {
	rest, ok := strings.CutPrefix(name, damagedPrefix)
	if !ok || len(rest) < 65 || rest[64] != '-' || !isHex64(rest[:64]) {
		return ""
	}
	return rest[:64]
}

// pruneDamaged removes a replaced damaged layer dir; the caller found its DiffID not kept.
func (s *Snapshotter) pruneDamaged(name string, dryRun bool) (*Layer, error) {
	dir := filepath.Join(s.root, name)
	l, err := s.describe(dir, v1.Hash{})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil || dryRun {
		return &l, err
	}
	return &l, removeAll(dir)
}

// prunePrints removes the fingerprints of layers that have no layer dir, and temporary files
// a crash left.
func (s *Snapshotter) prunePrints() error {
	return s.pruneSidecars(printsDir, "fingerprint", func(name string) bool {
		return isHex64(name) && s.Has(v1.Hash{Algorithm: "sha256", Hex: name})
	})
}

// Damage checks the layer dir of diffID under root (a snapshotter's root, as its layer dirs'
// parent) against its fingerprint, without opening the snapshotter: it says how the dir
// differs when it lost files since its unpack, and "" when it is as unpacked, has no
// fingerprint or is missing. It is the check Ensure makes, for a start of a container whose
// lowerdirs name the layer dirs (the repair is Ensure's, which swaps a fresh unpack into the
// same path).
func Damage(root string, diffID v1.Hash) string {
	if validDiffID(diffID) != nil {
		return ""
	}
	s := &Snapshotter{root: root}
	if state, how := s.intact(diffID); state == intactDamaged {
		return how
	}
	return ""
}
