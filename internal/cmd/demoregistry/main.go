// Command demoregistry serves the testdata images (alpine, busybox) from an in-memory OCI
// registry on 127.0.0.1, for `make demo` on a machine without internet. It writes its address
// to -addr-file once it is seeded and serves until it is signalled.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/strata-run/strata/internal/testimages"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (loopback only)")
	addrFile := flag.String("addr-file", "", "write host:port here once the images are pushed")
	testdata := flag.String("testdata", "testdata", "the repository's testdata directory")
	flag.Parse()
	if err := run(*addr, *addrFile, *testdata); err != nil {
		fmt.Fprintln(os.Stderr, "demoregistry:", err)
		os.Exit(1)
	}
}

func run(addr, addrFile, testdata string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		return fmt.Errorf("refusing to listen on %s: loopback only", ln.Addr())
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(ln)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	host := ln.Addr().String()
	if err := testimages.Seed(ctx, testdata, host); err != nil {
		return err
	}
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte(host+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "demoregistry: serving alpine and busybox on http://%s\n", host)
	<-ctx.Done()
	return srv.Close()
}
