package main

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestRunDNSNormalized: --dns values reach the Spec as docker's CLI keeps them
// (opts.ValidateIPAddress): whitespace around an address is allowed and dropped, and the
// address is in its normal form; what is no address is refused in one line. strata refused
// " 8.8.8.8" and wrote "2001:DB8:0::1" into resolv.conf as typed.
func TestRunDNSNormalized(t *testing.T) {
	image := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}}}
	for _, tt := range []struct {
		dns     []string
		want    []string
		wantErr string
	}{
		{dns: nil, want: nil},
		{dns: []string{"8.8.8.8"}, want: []string{"8.8.8.8"}},
		{dns: []string{" 8.8.8.8 ", "\t1.1.1.1\n"}, want: []string{"8.8.8.8", "1.1.1.1"}},
		{dns: []string{"2001:DB8:0::1", "0:0:0:0:0:0:0:1"}, want: []string{"2001:db8::1", "::1"}},
		{dns: []string{"::ffff:10.0.0.1"}, want: []string{"10.0.0.1"}},
		{dns: []string{"8.8.8.8", "abc"}, wantErr: `invalid IP address in --dns: "abc"`},
		{dns: []string{""}, wantErr: `invalid IP address in --dns: ""`},
		{dns: []string{"[::1]"}, wantErr: `invalid IP address in --dns: "[::1]"`},
		{dns: []string{"fe80::1%eth0"}, wantErr: `invalid IP address in --dns: "fe80::1%eth0"`},
		{dns: []string{"1.2.3.4\nnameserver 6.6.6.6"}, wantErr: `invalid IP address in --dns: "1.2.3.4\nnameserver 6.6.6.6"`},
	} {
		o := runOptions{dns: tt.dns}
		spec, err := o.spec(image, nil)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("--dns %q: error %v, want %s", tt.dns, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(spec.DNS, tt.want) {
			t.Errorf("--dns %q: DNS %q, %v; want %q", tt.dns, spec.DNS, err, tt.want)
		}
	}
}
