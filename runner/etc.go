package runner

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-run/strata/internal/quote"
)

// defaultHosts is the /etc/hosts of a container without host networking (Docker's).
const defaultHosts = `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
`

// hostsFile is the container's /etc/hosts: the host's with host networking, Docker's default
// otherwise, then the hostname on loopback and every --add-host "name:ip".
func hostsFile(network, hostname string, hostHosts []byte, extra []string) ([]byte, error) {
	var b bytes.Buffer
	if network == NetworkHost && hostHosts != nil {
		b.Write(hostHosts)
		if len(hostHosts) > 0 && hostHosts[len(hostHosts)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString(defaultHosts)
		if hostname != "" {
			fmt.Fprintf(&b, "127.0.1.1\t%s\n", hostname)
		}
	}
	for _, h := range extra {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid --add-host %s: want name:ip", quote.Value(h))
		}
		if ip == "host-gateway" {
			return nil, fmt.Errorf("--add-host %s: host-gateway: %w", quote.Value(h), ErrUnsupported)
		}
		// As docker, which says no more: netip's reason ("IPv4 field has value >255") would
		// quote the address a second time, uncut.
		addr, err := netip.ParseAddr(strings.Trim(ip, "[]"))
		if err != nil {
			return nil, fmt.Errorf("invalid IP address in --add-host: %s", quote.Value(ip))
		}
		fmt.Fprintf(&b, "%s\t%s\n", addr, name)
	}
	return b.Bytes(), nil
}

// resolvConf is the container's /etc/resolv.conf from the host's. With host networking the
// host's file is kept as is (a local resolver is reachable); otherwise loopback nameservers
// are dropped, because 127.0.0.53 inside the container's netns is not the host's resolver.
// dns, when given, replaces every nameserver line (--dns).
func resolvConf(network string, host []byte, dns []string) ([]byte, error) {
	var b bytes.Buffer
	for _, d := range dns {
		if _, err := netip.ParseAddr(d); err != nil {
			return nil, fmt.Errorf("invalid IP address in --dns: %s", quote.Value(d))
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 1 && fields[0] == "nameserver" {
			if len(dns) > 0 {
				continue
			}
			if network != NetworkHost && len(fields) >= 2 {
				if a, err := netip.ParseAddr(fields[1]); err == nil && a.IsLoopback() {
					continue
				}
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	for _, d := range dns {
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	return b.Bytes(), nil
}

// writeEtcFiles writes hostname, hosts and resolv.conf into the container dir, for the init to
// bind over the image's files.
func writeEtcFiles(spec Spec) error {
	hostHosts, _ := os.ReadFile("/etc/hosts")        // absent on the host: Docker's default
	hostResolv, _ := os.ReadFile("/etc/resolv.conf") // absent: no nameservers, as on the host
	hosts, err := hostsFile(spec.Network, spec.Hostname, hostHosts, spec.ExtraHosts)
	if err != nil {
		return err
	}
	resolv, err := resolvConf(spec.Network, hostResolv, spec.DNS)
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"hostname":    []byte(spec.Hostname + "\n"),
		"hosts":       hosts,
		"resolv.conf": resolv,
	} {
		if err := writeFileReplace(filepath.Join(spec.Dir, name), data, 0o644, false); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes data to a temp file beside name, fsyncs it and renames it over name,
// so readers see the old or the new content, never a torn one, even after a crash.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	return writeFileReplace(name, data, perm, true)
}

// writeFileReplace is writeFileAtomic with the fsync optional: files rewritten on every start
// (hostname, hosts, resolv.conf) need no durability, and three fsyncs cost milliseconds of
// every `strata run`.
func writeFileReplace(name string, data []byte, perm os.FileMode, durable bool) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if durable {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err = os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
