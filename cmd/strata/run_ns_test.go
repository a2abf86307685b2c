package main

import (
	"strings"
	"testing"
)

// TestCheckNamespaceConflicts: the flags docker refuses beside --uts host and --network
// container:X, in its words (runconfig's ErrConflict*), and those it takes.
func TestCheckNamespaceConflicts(t *testing.T) {
	for _, tc := range []struct {
		o    runOptions
		want string // "" for no error
	}{
		{runOptions{}, ""},
		{runOptions{hostname: "h"}, ""},
		{runOptions{ns: nsOptions{uts: "host"}}, ""},
		{runOptions{ns: nsOptions{uts: "host"}, hostname: "h"}, "conflicting options: hostname and the UTS mode"},
		{runOptions{network: "host", hostname: "h", dns: []string{"1.1.1.1"}}, ""},
		{runOptions{network: "container:web"}, ""},
		{runOptions{network: "container:web", hostname: "h"}, "conflicting options: hostname and the network mode"},
		{runOptions{network: "container:web", dns: []string{"1.1.1.1"}}, "conflicting options: dns and the network mode"},
		{runOptions{network: "container:web", dnsSearch: []string{"x"}}, "conflicting options: dns and the network mode"},
		{runOptions{network: "container:web", dnsOptions: []string{"ndots:2"}}, "conflicting options: dns and the network mode"},
		{runOptions{network: "container:web", addHosts: []string{"a:1.2.3.4"}}, "conflicting options: custom host-to-IP mapping and the network mode"},
	} {
		err := tc.o.checkNamespaceConflicts()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkNamespaceConflicts(%+v) = %v, want %q", tc.o.ns, err, tc.want)
		}
	}
}
