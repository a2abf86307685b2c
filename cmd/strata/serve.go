package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/serve"
	"github.com/strata-run/strata/snapshotter"
)

// serveShutdownTimeout is how long a stopped serve lets the responses under way finish.
var serveShutdownTimeout = 10 * time.Second

type serveOptions struct {
	addr        string
	pullThrough string
	platform    string
}

func newServeCmd(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [OPTIONS]",
		Short: "Serve the local image store as a read-only registry that docker, podman and skopeo pull from",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), g, o, cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:5000", "address to listen on (a non-loopback address serves every image to the network)")
	f.StringVar(&o.pullThrough, "pull-through", "", "registry to pull a missing image from, then serve it (docker.io, host:port, or http://host:port)")
	f.StringVar(&o.platform, "platform", "", "os/arch[/variant] that --pull-through pulls (default: this host's)")
	return cmd
}

func runServe(ctx context.Context, g *globals, o serveOptions, cmd *cobra.Command) error {
	// net.Listen takes "" for every interface on a random port: an unset variable in
	// `--addr "$ADDR"` would serve the store to the network. ":PORT" asks for that in words.
	if strings.TrimSpace(o.addr) == "" {
		return fmt.Errorf("invalid --addr %s: want HOST:PORT, or :PORT for every interface", quoteValue(o.addr))
	}
	store, err := g.openStore()
	if err != nil {
		return err
	}
	var opts serve.Options
	storeErrOut := cmd.ErrOrStderr()
	opts.OnStoreError = func(err error) {
		fmt.Fprintf(storeErrOut, "strata: serve: %s\n", oneLine(err.Error()))
	}
	if o.pullThrough != "" {
		ropts := g.registryOptions()
		if o.platform != "" {
			p, err := registry.ParsePlatform(o.platform)
			if err != nil {
				return err // ParsePlatform names the value and the form it wants
			}
			ropts.Platform = p
		}
		if off, err := offlineEnv(); err != nil {
			return err
		} else if off {
			return fmt.Errorf("--pull-through needs the network, and STRATA_OFFLINE=%s forbids it", os.Getenv("STRATA_OFFLINE"))
		}
		if _, err := g.unpackedLayers(); err != nil {
			return err
		}
		check, proven := checkUnpackedLater(g)
		pull, err := serve.NewPullThroughProven(o.pullThrough, store, ropts, check, proven)
		if err != nil {
			return err
		}
		opts.PullThrough = pull
		errOut := cmd.ErrOrStderr()
		opts.OnPull = func(name, ref string, err error) {
			if err != nil {
				fmt.Fprintf(errOut, "strata: pull-through %s %s: %s\n", name, ref, oneLine(err.Error()))
				return
			}
			fmt.Fprintf(errOut, "Pulled %s %s from %s\n", name, ref, o.pullThrough)
		}
	} else if o.platform != "" {
		return errors.New("--platform only applies with --pull-through")
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		fmt.Fprintf(cmd.ErrOrStderr(), "strata: warning: listening on %s: every image in the store can be pulled from the network\n", ln.Addr())
	}
	// At most serve.DefaultConnLimits() connections at once, so that clients which open
	// thousands and send nothing cannot run the server out of descriptors.
	lim := serve.Limit(ln, serve.DefaultConnLimits())
	srv := serve.NewHTTPServer(serve.New(store, opts), lim)
	fmt.Fprintf(cmd.OutOrStdout(), "Serving %s read-only at http://%s\n", g.storeDir(), ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lim) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Responses still under way (a slow client's blob) are cut off: stopping was asked
		// for, and it is not an error of the server's.
		n := lim.Open()
		srv.Close()
		fmt.Fprintf(cmd.ErrOrStderr(), "strata: serve: stopped, closing %d connections still serving after %s\n", n, serveShutdownTimeout)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// offlineEnv reports whether STRATA_OFFLINE forbids the network: 1, true or yes (in any
// case) turn it on; unset, empty, 0, false or no leave it off. Any other value is an error:
// "STRATA_OFFLINE=on" read as off would send an air-gapped site's pulls to the network.
func offlineEnv() (bool, error) {
	v := os.Getenv("STRATA_OFFLINE")
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes":
		return true, nil
	case "", "0", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("invalid STRATA_OFFLINE=%s: want 1, true or yes to forbid the network, or 0, false, no or empty", quoteValue(v))
}

// checkUnpackedLater is checkUnpacked for serve, which runs for as long as it is left to: the
// layer store is looked for at each layer until one exists, not once at start, as pulls and
// runs in the same root unpack layers while it serves. Looked for once, a serve started
// where nothing was unpacked checked nothing for the rest of its run. proven is the layer
// store's Proven once there is one (nothing is proven before).
func checkUnpackedLater(g *globals) (check cache.LayerFunc, proven func(blob, diffID v1.Hash) bool) {
	var (
		mu   sync.Mutex
		here *snapshotter.Snapshotter
	)
	find := func() (*snapshotter.Snapshotter, error) {
		mu.Lock()
		defer mu.Unlock()
		if here == nil {
			s, err := g.unpackedLayers()
			if err != nil {
				return nil, err
			}
			here = s
		}
		return here, nil
	}
	check = func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
		s, err := find()
		if err != nil {
			return err
		}
		if s == nil {
			return nil // no layer unpacked here: nothing to check against
		}
		return checkUnpacked(s)(ctx, desc, diffID, r)
	}
	proven = func(blob, diffID v1.Hash) bool {
		s, err := find()
		return err == nil && s != nil && s.Proven(diffID, blob)
	}
	return check, proven
}
