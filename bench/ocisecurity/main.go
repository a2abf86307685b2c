// Command ocisecurity rewrites the config.json of an OCI bundle to carry the security
// defaults docker applies to a container: docker's default capabilities and docker's default
// seccomp profile (moby/profiles/seccomp) resolved for them, as strata, docker and podman run
// one. bench/lib/start.sh uses it on the bundle `runc spec` writes (3 capabilities, no
// seccomp filter), so the start measurement times runc and crun with those defaults too.
//
//	ocisecurity BUNDLE
//
// Everything else in config.json is kept as it is.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DockerCaps is docker's default capability set (moby oci/caps/defaults.go), in its order.
// Docker gives a container's process these as its bounding, effective and permitted sets, and
// no inheritable or ambient ones.
var DockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

func main() {
	if len(os.Args) != 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: ocisecurity BUNDLE (rewrites BUNDLE/config.json with docker's default capabilities and seccomp profile)")
		os.Exit(2)
	}
	if err := rewrite(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "ocisecurity:", err)
		os.Exit(1)
	}
}

// dockerDefaults returns docker's default capabilities and its default seccomp profile
// resolved for them on this host (calls gated on a capability the set lacks, or on a newer
// kernel, are left out, as docker leaves them out).
func dockerDefaults() (specs.LinuxCapabilities, *specs.LinuxSeccomp, error) {
	caps := specs.LinuxCapabilities{
		Bounding:  append([]string(nil), DockerCaps...),
		Effective: append([]string(nil), DockerCaps...),
		Permitted: append([]string(nil), DockerCaps...),
	}
	profile, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: &caps}})
	if err != nil {
		return caps, nil, fmt.Errorf("resolving docker's default seccomp profile: %w", err)
	}
	return caps, profile, nil
}

// rewrite replaces process.capabilities and linux.seccomp in bundle/config.json with docker's
// defaults. The file is edited as generic JSON, numbers kept as written, so fields this
// runtime-spec version does not know survive; it is replaced by rename, whole or not at all.
func rewrite(bundle string) error {
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var config map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&config); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	process, ok := config["process"].(map[string]any)
	if !ok {
		return fmt.Errorf("reading %s: no process object", path)
	}
	linux, ok := config["linux"].(map[string]any)
	if !ok {
		return fmt.Errorf("reading %s: no linux object", path)
	}
	caps, profile, err := dockerDefaults()
	if err != nil {
		return err
	}
	process["capabilities"] = caps
	linux["seccomp"] = profile
	out, err := json.MarshalIndent(config, "", "\t")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}
