package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// dfReport is the JSON of `strata system df --format json`, as far as the tests read it.
type dfReport struct {
	Summary []struct {
		Type        string `json:"type"`
		Total       int    `json:"total"`
		Active      int    `json:"active"`
		Size        int64  `json:"size"`
		Reclaimable int64  `json:"reclaimable"`
	} `json:"summary"`
	Images []struct {
		Ref        string `json:"ref"`
		ID         string `json:"id"`
		Size       int64  `json:"size"`
		Shared     int64  `json:"shared"`
		Unique     int64  `json:"unique"`
		Containers int    `json:"containers"`
	} `json:"images"`
	Layers []struct {
		DiffID     string `json:"diffID"`
		Compressed int64  `json:"compressed"`
		Unpacked   int64  `json:"unpacked"`
		Images     int    `json:"images"`
		Containers int    `json:"containers"`
	} `json:"layers"`
	Containers []struct {
		ID   string `json:"id"`
		Size int64  `json:"size"`
	} `json:"containers"`
	Totals struct {
		Layers     int   `json:"layers"`
		Unpacked   int64 `json:"unpacked"`
		Blobs      int   `json:"blobs"`
		Compressed int64 `json:"compressed"`
		Unique     int64 `json:"unique"`
		Shared     int64 `json:"shared"`
		Unused     int64 `json:"unused"`
		Total      int64 `json:"total"`
	} `json:"totals"`
}

func systemDf(t *testing.T, root string) dfReport {
	t.Helper()
	out := mustStrata(t, root, "system", "df", "-v", "--format", "json")
	var r dfReport
	if err := json.Unmarshal([]byte(out.Stdout), &r); err != nil {
		t.Fatalf("system df --format json printed %q: %v", out.Stdout, err)
	}
	return r
}

// TestSystemDfSharedBase pulls ten images that share alpine's layer and add one unique layer
// each, and checks system df against the disk: the store holds the base once, every image's
// reclaimable bytes are exactly its own layer dir and blobs, removing an image frees exactly
// that, and a container pins its image's layers.
func TestSystemDfSharedBase(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	root := newRoot(t)
	base := alpineBase(t)

	const n = 10
	type pushed struct {
		ref     string
		img     v1.Image
		layer   *rawLayer
		ownSize int64 // manifest + config + compressed unique layer
	}
	images := make([]pushed, n)
	for i := range images {
		// Random bytes do not compress, so the blob and the layer dir are both ~256 KiB.
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		body := make([]byte, 256<<10)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		l := gzipLayer(t, []tarEntry{{Name: fmt.Sprintf("own%d", i), Body: string(body)}})
		ref, img := pushImage(t, reg, fmt.Sprintf("df/img%d:v1", i), base, l)
		images[i] = pushed{ref: ref, img: img, layer: l}
	}
	for i := range images {
		mustStrata(t, root, "pull", "-q", images[i].ref)
	}
	blobSize := func(h v1.Hash) int64 {
		fi, err := os.Stat(filepath.Join(root, "oci", "blobs", "sha256", h.Hex))
		if err != nil {
			t.Fatalf("blob %s not in the store: %v", h, err)
		}
		return fi.Size()
	}
	for i := range images {
		m, _ := images[i].img.Digest()
		c, _ := images[i].img.ConfigName()
		images[i].ownSize = blobSize(m) + blobSize(c) + int64(len(images[i].layer.blob))
	}
	baseLayers, _ := base.Layers()
	baseDiffID, _ := baseLayers[0].DiffID()

	df := systemDf(t, root)
	if df.Totals.Layers != n+1 {
		t.Errorf("system df counts %d layers, want %d (the base once, and one per image)", df.Totals.Layers, n+1)
	}
	for _, l := range df.Layers {
		want := 1
		if l.DiffID == baseDiffID.String() {
			want = n
		}
		if l.Images != want {
			t.Errorf("layer %s is shared by %d images, want %d", l.DiffID, l.Images, want)
		}
		if got := duBytes(t, filepath.Join(root, "snapshots", strings.TrimPrefix(l.DiffID, "sha256:"))); l.Unpacked != got {
			t.Errorf("layer %s unpacked = %d, du says %d", l.DiffID, l.Unpacked, got)
		}
	}
	byRef := map[string]int{}
	for i, im := range df.Images {
		byRef[im.Ref] = i
	}
	for _, p := range images {
		i, ok := byRef[p.ref]
		if !ok {
			t.Fatalf("system df lists no image %s: %+v", p.ref, df.Images)
		}
		own := duBytes(t, filepath.Join(root, "snapshots", p.layer.diffID.Hex))
		if want := own + p.ownSize; df.Images[i].Unique != want {
			t.Errorf("%s unique = %d, want %d (its layer dir %d + its manifest, config and layer blobs %d)", p.ref, df.Images[i].Unique, want, own, p.ownSize)
		}
		if df.Images[i].Shared+df.Images[i].Unique != df.Images[i].Size {
			t.Errorf("%s: shared %d + unique %d != size %d", p.ref, df.Images[i].Shared, df.Images[i].Unique, df.Images[i].Size)
		}
	}
	// The store really holds the base once: what df adds up is what du sees, within 1%
	// (du also counts directories of the layout and the snapshot root itself, df blob
	// sizes are bytes rather than blocks).
	disk := duBytes(t, filepath.Join(root, "snapshots"), filepath.Join(root, "oci", "blobs"))
	if diff := disk - df.Totals.Total; diff < -disk/100 || diff > disk/100 {
		t.Errorf("system df total %d bytes, du of snapshots and blobs %d: more than 1%% apart", df.Totals.Total, disk)
	}
	if df.Totals.Unique+df.Totals.Shared+df.Totals.Unused != df.Totals.Total {
		t.Errorf("totals: unique %d + shared %d + unused %d != total %d", df.Totals.Unique, df.Totals.Shared, df.Totals.Unused, df.Totals.Total)
	}
	if s := df.Summary[0]; s.Type != "Images" || s.Total != n || s.Size != df.Totals.Total || s.Reclaimable != s.Size {
		t.Errorf("summary Images row = %+v, want %d images, size %d, all reclaimable (no container)", s, n, df.Totals.Total)
	}

	// Removing one image frees exactly what df said it would.
	victim := images[3]
	unique := df.Images[byRef[victim.ref]].Unique
	mustStrata(t, root, "rmi", victim.ref)
	after := systemDf(t, root)
	if freed := df.Totals.Total - after.Totals.Total; freed != unique {
		t.Errorf("rmi %s freed %d bytes, system df promised %d", victim.ref, freed, unique)
	}

	// Two refs to one image share everything: removing either frees nothing.
	alias, _ := pushImage(t, reg, "df/img1:alias", images[1].img)
	mustStrata(t, root, "pull", "-q", alias)
	df = systemDf(t, root)
	for _, im := range df.Images {
		if (im.Ref == alias || im.Ref == images[1].ref) && im.Unique != 0 {
			t.Errorf("%s, tagged twice, unique = %d, want 0", im.Ref, im.Unique)
		}
	}
	mustStrata(t, root, "rmi", alias)
	if again := systemDf(t, root); again.Totals.Total != df.Totals.Total {
		t.Errorf("rmi of an alias changed the store from %d to %d bytes, want no change", df.Totals.Total, again.Totals.Total)
	}

	// A container pins its image's layer dirs: removing the image would free only its blobs.
	kept := images[0]
	mustStrata(t, root, "run", "--name", "dfc", kept.ref, "sh", "-c", "head -c 200000 /dev/urandom > /written")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "dfc") })
	df = systemDf(t, root)
	c := df.Summary[1]
	if c.Type != "Containers" || c.Total != 1 || c.Active != 0 || c.Size < 200000 || c.Reclaimable != c.Size {
		t.Errorf("summary Containers row = %+v, want one stopped container of at least 200000 bytes, all reclaimable", c)
	}
	im := df.Images[0]
	if im.Ref != kept.ref {
		t.Fatalf("first image is %s, want %s", im.Ref, kept.ref)
	}
	if im.Containers != 1 || im.Unique != kept.ownSize {
		t.Errorf("%s with a container: containers %d, unique %d; want 1 and %d (its blobs only)", kept.ref, im.Containers, im.Unique, kept.ownSize)
	}
	if s := df.Summary[0]; s.Active != 1 || s.Reclaimable >= s.Size {
		t.Errorf("summary Images row with a container = %+v, want 1 active and less than all reclaimable", s)
	}

	// A running container is active, and its writes are not reclaimable.
	mustStrata(t, root, "run", "-d", "--name", "dfbg", kept.ref, "sh", "-c", "head -c 100000 /dev/urandom > /w; sleep 60")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "dfbg") })
	var running dfReport
	for range 100 {
		running = systemDf(t, root)
		if c := running.Summary[1]; c.Active == 1 && c.Size-c.Reclaimable >= 100000 {
			break
		}
		time.Sleep(50 * time.Millisecond) // the detached container is still writing /w
	}
	if c := running.Summary[1]; c.Total != 2 || c.Active != 1 || c.Size-c.Reclaimable < 100000 {
		t.Errorf("summary Containers row with one running = %+v, want 2 containers, 1 active, its 100000 bytes not reclaimable", c)
	}
	mustStrata(t, root, "rm", "-f", "dfbg")

	if r := strata(t, root, "system", "df", "--format", "yaml"); r.Code != 1 {
		t.Errorf("system df --format yaml = exit %d, want 1", r.Code)
	} else {
		assertOneLineError(t, r.Stderr, "--format")
	}
	if out := mustStrata(t, root, "system", "prune", "--dry-run").Stdout; !strings.Contains(out, "Total reclaimable space") {
		t.Errorf("system prune --dry-run printed %q, want prune's report", out)
	}
	text := mustStrata(t, root, "system", "df", "-v").Stdout
	for _, want := range []string{"TYPE", "RECLAIMABLE", "Images space usage", "Layers space usage", "Containers space usage", "dfc"} {
		if !strings.Contains(text, want) {
			t.Errorf("system df -v output lacks %q:\n%s", want, text)
		}
	}
}
