package snapshotter

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/layers"
)

// BenchmarkUnpack unpacks the real alpine layer (gzip) into a fresh root each time: the
// decompress, apply, syncfs and rename path of a pull.
func BenchmarkUnpack(b *testing.B) {
	testutil.Requires(b, testutil.Path(alpineLayer))
	gz, err := os.ReadFile(alpineLayer)
	if err != nil {
		b.Fatal(err)
	}
	d := gzipDiffIDTB(b, alpineLayer)
	base := b.TempDir()
	b.SetBytes(int64(len(gz)))
	i := 0
	for b.Loop() {
		s, err := New(filepath.Join(base, strconv.Itoa(i)), Options{Driver: VFS, Layer: layers.Options{IgnoreOwners: os.Geteuid() != 0}})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Unpack(b.Context(), d, types.DockerLayer, bytes.NewReader(gz)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPrepare makes and removes a container root over alpine with each driver, and
// reports the bytes a container costs on disk and the bytes it shares with the layer dirs.
func BenchmarkPrepare(b *testing.B) {
	testutil.Requires(b, testutil.Path(alpineLayer))
	for _, d := range drivers {
		b.Run(d.name, func(b *testing.B) {
			testutil.Requires(b, d.reqs...)
			base := b.TempDir()
			s, err := New(filepath.Join(base, "snapshots"), Options{Driver: d.driver, Layer: d.layer})
			if err != nil {
				b.Fatal(err)
			}
			f, err := os.Open(alpineLayer)
			if err != nil {
				b.Fatal(err)
			}
			diffID := gzipDiffIDTB(b, alpineLayer)
			err = s.Unpack(b.Context(), diffID, types.DockerLayer, f)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			layerSize, err := DirSize(s.LayerDir(diffID))
			if err != nil {
				b.Fatal(err)
			}
			cdir := filepath.Join(base, "containers", "c")
			var containerSize int64
			for b.Loop() {
				if _, err := s.Prepare(b.Context(), cdir, []v1.Hash{diffID}, false); err != nil {
					b.Fatal(err)
				}
				if containerSize == 0 {
					b.StopTimer()
					if containerSize, err = DirSize(cdir); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if err := s.Remove(b.Context(), cdir); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(containerSize), "container-bytes/op")
			b.ReportMetric(float64(layerSize), "layer-bytes")
		})
	}
}
