package snapshotter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/internal/safefile"
	"github.com/strata-run/strata/layers"
)

// Driver names how container root filesystems are made from layer dirs.
type Driver string

// Drivers.
const (
	// Overlay mounts the layer dirs as overlayfs lowers under a per-container upper.
	Overlay Driver = "overlay"
	// VFS copies the layer dirs into a per-container rootfs; it works on any filesystem.
	VFS Driver = "vfs"
)

// Errors callers branch on.
var (
	// ErrLayerNotFound: Prepare was given a DiffID whose layer dir does not exist.
	ErrLayerNotFound = errors.New("layer not unpacked")
	// ErrDiffIDMismatch: the unpacked tar does not hash to the DiffID it was unpacked as.
	// It is layers.ErrDiffIDMismatch, so either matches with errors.Is.
	ErrDiffIDMismatch = layers.ErrDiffIDMismatch
	// ErrInvalidDiffID: a DiffID that is not a sha256 of 64 lower-case hex digits, which
	// could not name a layer dir safely.
	ErrInvalidDiffID = errors.New("invalid diffid")
	// ErrUnknownDriver: Options.Driver is neither "", "overlay" nor "vfs".
	ErrUnknownDriver = errors.New("unknown snapshotter driver")
	// ErrOverlayUnavailable: Options.Driver is "overlay" but overlay cannot be mounted here.
	ErrOverlayUnavailable = errors.New("overlay cannot be mounted here")
	// ErrTooManyLayers: the overlay driver cannot stack the image's layers (and, for a
	// read-only container, its mount points) in one mount.
	ErrTooManyLayers = errors.New("too many layers for one overlay mount")
	// ErrBusy: Remove found mounts under a container dir that would not go away.
	ErrBusy = errors.New("container dir still has mounts")
)

// Options configures New. The zero value picks the driver by probing and applies layers with
// layers' defaults.
type Options struct {
	// Driver is Overlay, VFS, or "" to use overlay when a probe mount works and vfs otherwise
	// (with a Warning).
	Driver Driver
	// Layer is passed to layers.Apply for every Unpack; MediaType and ExpectDiffID are set per
	// layer. Whiteouts must be an overlay form (not layers.WhiteoutKeep): layer dirs serve as
	// lowerdirs whichever driver a later process picks. The vfs driver alone switches to
	// WhiteoutKeep, where the filesystem cannot hold overlay's markers.
	Layer layers.Options
}

// Snapshotter manages the layer dirs under one root. It is safe for concurrent use, also by
// several processes sharing the root.
type Snapshotter struct {
	root    string
	driver  Driver
	warning string
	layer   layers.Options
	// leftovers are the .tmp- dirs of unpacks that died, found once (see removeTmp).
	leftovers tmpLeftovers
}

// New opens (creating if needed) the snapshot root, <root>/snapshots in strata's layout, and
// settles the driver.
func New(root string, opts Options) (*Snapshotter, error) {
	if opts.Layer.Whiteouts == layers.WhiteoutKeep {
		return nil, fmt.Errorf("opening snapshotter %s: whiteout mode %s cannot serve overlay lowers", root, opts.Layer.Whiteouts)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening snapshotter %s: %w", root, err)
	}
	// 0700: layer dirs hold files of every image, including ones readable only by their
	// owner inside the image, setuid-root programs and device nodes an image chose. A root
	// made before (by hand, by an older strata) is tightened: through it, any host user could
	// run an image's setuid shell as root or open its block device of the host's disk
	// (moby's CVE-2021-41091, fixed the same way).
	if err := checkOwnDirs(abs); err != nil {
		return nil, fmt.Errorf("opening snapshotter %s: %w", root, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, locksDir), 0o700); err != nil {
		return nil, fmt.Errorf("opening snapshotter %s: %w", root, err)
	}
	if err := tighten(abs); err != nil {
		return nil, fmt.Errorf("opening snapshotter %s: %w", root, err)
	}
	s := &Snapshotter{root: abs, layer: opts.Layer}
	switch opts.Driver {
	case VFS:
		s.driver = VFS
	case Overlay:
		if err := probeOverlayCached(abs); err != nil {
			return nil, fmt.Errorf("opening snapshotter %s: %w: %w", root, ErrOverlayUnavailable, err)
		}
		s.driver = Overlay
	case "":
		if err := probeOverlayCached(abs); err != nil {
			s.driver = VFS
			s.warning = fmt.Sprintf("overlay cannot be mounted here (%v): using the vfs copy driver", err)
		} else {
			s.driver = Overlay
		}
	default:
		return nil, fmt.Errorf("opening snapshotter %s: %w: %q (want overlay or vfs)", root, ErrUnknownDriver, opts.Driver)
	}
	if s.driver == VFS && probeWhiteouts(abs, s.layer.Whiteouts) != nil {
		// Overlay's markers cannot be made here (a root on overlayfs, which keeps them for
		// itself, or no CAP_MKNOD): layer dirs keep the image-spec .wh. files, which the vfs
		// copy applies. Overlay could not use this filesystem's layer dirs anyway.
		s.layer.Whiteouts = layers.WhiteoutKeep
	}
	return s, nil
}

// checkOwnDirs refuses a locks, proofs or fingerprints dir that is a symlink (safefile.OwnDirs): through it
// every layer's lock file (or proof) was made, and opened for writing, wherever it pointed. The root is the
// caller's path, and may be a link (as --root may). A missing one is made.
func checkOwnDirs(root string) error {
	return safefile.OwnDirs("the layer store", filepath.Join(root, locksDir), filepath.Join(root, provenDir), filepath.Join(root, printsDir))
}

// tighten takes group and other permissions off dir (a symlink's target: an admin may have
// moved the root). A dir strata may not change (a store on read-only media, another owner's)
// is used as it is: refusing it would stop every command on a store that worked before.
func tighten(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	err = os.Chmod(dir, fi.Mode().Perm()&0o700)
	if errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EPERM) {
		return nil
	}
	return err
}

// Root is the directory holding the layer dirs.
func (s *Snapshotter) Root() string { return s.root }

// Driver is the driver in use, after auto-detection.
func (s *Snapshotter) Driver() Driver { return s.driver }

// Warning is non-empty when auto-detection fell back to vfs; cmd prints it once.
func (s *Snapshotter) Warning() string { return s.warning }

// Has reports whether the layer dir for diffID exists (and so is complete).
func (s *Snapshotter) Has(diffID v1.Hash) bool {
	if validDiffID(diffID) != nil {
		return false
	}
	fi, err := os.Lstat(s.LayerDir(diffID))
	return err == nil && fi.IsDir()
}

// LayerDir is the path of diffID's layer dir, whether or not it exists. It is "" for a
// DiffID that is not a well-formed sha256, so a hostile config cannot name another path.
func (s *Snapshotter) LayerDir(diffID v1.Hash) string {
	if validDiffID(diffID) != nil {
		return ""
	}
	return filepath.Join(s.root, diffID.Hex)
}

// validDiffID accepts only sha256 with 64 lower-case hex digits: the hex becomes a path.
func validDiffID(h v1.Hash) error {
	if h.Algorithm != "sha256" || !isHex64(h.Hex) {
		return fmt.Errorf("%w: %q", ErrInvalidDiffID, h.String())
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// short is the digest as messages name it: algorithm and 12 hex digits.
func short(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}
