package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

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
		// A space, tab or newline in the name would add names or whole lines to the file.
		if i := strings.IndexFunc(name, badHostsRune); i >= 0 {
			r, _ := utf8.DecodeRuneInString(name[i:])
			return nil, fmt.Errorf("invalid --add-host %s: the name contains %s", quote.Value(h), quote.Value(string(r)))
		}
		if ip == "host-gateway" {
			return nil, fmt.Errorf("--add-host %s: host-gateway: %w", quote.Value(h), ErrUnsupported)
		}
		// As docker, which says no more: netip's reason ("IPv4 field has value >255") would
		// quote the address a second time, uncut.
		addr, err := parseIP(strings.Trim(ip, "[]"))
		if err != nil {
			return nil, fmt.Errorf("invalid IP address in --add-host: %s", quote.Value(ip))
		}
		fmt.Fprintf(&b, "%s\t%s\n", addr, name)
	}
	return b.Bytes(), nil
}

// parseIP parses an address as docker's net.ParseIP does: without an IPv6 zone, which netip
// takes whatever it holds ("fe80::1%eth0\nsearch evil") and which would be written as is.
func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err == nil && a.Zone() != "" {
		return netip.Addr{}, errors.New("IPv6 zone")
	}
	return a, err
}

// badHostsRune reports a rune that /etc/hosts would take as a separator or an end of line:
// whitespace and control characters.
func badHostsRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// validateHostname checks a container's hostname as RFC 1123 names a host: dot-separated
// labels of letters, digits and '-', none starting or ending with '-'. It becomes the UTS
// name, which the kernel takes up to 64 bytes (HOST_NAME_MAX) and with any byte, and a line
// of /etc/hosts, where a newline or a tab would add lines or names of the user's own. A label
// may have the 64 bytes the kernel allows, not only DNS's 63, as docker does not check them.
func validateHostname(h string) error {
	if len(h) > 64 {
		return fmt.Errorf("invalid hostname %s: longer than 64 bytes", quote.Value(h))
	}
	if h == "" {
		return nil // no ID to name it after: no hostname, and no line in /etc/hosts
	}
	for _, label := range strings.Split(h, ".") {
		ok := label != "" && label[0] != '-' && label[len(label)-1] != '-'
		for i := 0; ok && i < len(label); i++ {
			c := label[i]
			ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
		}
		if !ok {
			return fmt.Errorf("invalid hostname %s: want dot-separated labels of letters, digits and '-' (RFC 1123)", quote.Value(h))
		}
	}
	return nil
}

// resolvConf is the container's /etc/resolv.conf from the host's. With host networking the
// host's file is kept as is (a local resolver is reachable); otherwise loopback nameservers
// are dropped, because 127.0.0.53 inside the container's netns is not the host's resolver.
// dns, when given, replaces every nameserver line (--dns).
func resolvConf(network string, host []byte, dns []string) ([]byte, error) {
	var b bytes.Buffer
	for _, d := range dns {
		if _, err := parseIP(d); err != nil {
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
