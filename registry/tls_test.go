package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// TestLoopbackTLS pins Docker's default: 127.0.0.0/8 is an insecure registry, so a local
// registry with a self-signed certificate needs no flag.
func TestLoopbackTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	// The plain-HTTP half of the ping logs a handshake error on the server; keep it quiet.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	ref := mustRef(t, host+"/tls/app:1")
	img := randomImage(t)

	if err := Push(context.Background(), ref, img, testOptions()); err != nil {
		t.Fatalf("Push = %v", err)
	}

	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil || got.Descriptor.Digest != digestOf(t, img) {
		t.Fatalf("Image(%s) = %v, want digest %s", ref, err, digestOf(t, img))
	}
	// FetchBlob goes over HTTPS too, though a loopback name alone would suggest plain HTTP.
	layers, _ := img.Layers()
	body, err := got.FetchBlob(context.Background(), digestOf(t, layers[0]), 0)
	if err != nil {
		t.Fatalf("FetchBlob over TLS = %v", err)
	}
	body.Close()
}

func TestInsecureHosts(t *testing.T) {
	cfgPath := writeConfig(t, Config{Registries: map[string]RegistryConfig{"conf.example:5000": {Insecure: true}}})
	tests := []struct {
		host string
		opts func(*Options)
		want bool
	}{
		{"registry.example", nil, false},
		{"registry.example", func(o *Options) { o.Insecure = true }, true},
		{"registry.example", func(o *Options) { o.InsecureRegistries = []string{"registry.example"} }, true},
		{"registry.example:5000", func(o *Options) { o.InsecureRegistries = []string{"registry.example"} }, false},
		{"conf.example:5000", func(o *Options) { o.ConfigPath = cfgPath }, true},
		{"docker.io", func(o *Options) { o.InsecureRegistries = []string{"index.docker.io"} }, true},
		{"localhost:5000", nil, true},
		{"LOCALHOST:5000", nil, true}, // a reference may spell its host in capitals
		{"LocalHost", nil, true},
		{"127.0.0.1:5000", nil, true},
		{"127.1.2.3", nil, true},
		{"[::1]:5000", nil, true},
		{"10.0.0.1:5000", nil, false},
	}
	for _, tt := range tests {
		opts := testOptions()
		if tt.opts != nil {
			tt.opts(&opts)
		}
		p, err := NewPuller(opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.insecure(tt.host); got != tt.want {
			t.Errorf("insecure(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestTLSErrorMessage(t *testing.T) {
	// A verification failure reads as one line about TLS, not a URL dump.
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	_, err := client.Get(srv.URL + "/v2/")
	if err == nil {
		t.Fatal("GET with an unknown CA succeeded")
	}
	host := strings.TrimPrefix(srv.URL, "https://") // the registry's own host: not another it sent strata to
	e := classify(err, opPull, "manifest for x", "x", host)
	t.Logf("message: %s", e)
	if !errors.Is(e, ErrUnreachable) || !strings.HasPrefix(e.Error(), "registry "+host+": tls: ") || strings.Contains(e.Error(), "https://") {
		t.Errorf("classify(%v) = %q, want ErrUnreachable starting with \"registry %s: tls: \"", err, e, host)
	}
}

// TestTLSErrorOneLine: the names a server's certificate claims are the server's words, and
// Go's verifier quotes them as they are; the message stays one line without escapes.
func TestTLSErrorOneLine(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		DNSNames:              []string{"evil\n\x1b]0;owned\x07\x1b[2J" + strings.Repeat("x", 10000)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: "registry.example"}
	_, err = (&http.Client{Transport: tr}).Get(srv.URL + "/v2/")
	if err == nil {
		t.Fatal("GET with a certificate for other names succeeded")
	}
	e := classify(err, opPull, "manifest for x", "x", "registry.example")
	if msg := e.Error(); !errors.Is(e, ErrUnreachable) || strings.ContainsAny(msg, "\n\x1b\x07") || len(msg) > 4096 {
		t.Errorf("classify(%.100q) = %.300q (%d bytes), want one short line", err, msg, len(msg))
	}
}
