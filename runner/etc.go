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
	"golang.org/x/sys/unix"
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
// otherwise, then the hostname on loopback and every --add-host "name:ip" or "name=ip".
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
		name, ip, err := splitExtraHost(h)
		if err != nil {
			return nil, err
		}
		// As docker, which says no more: netip's reason ("IPv4 field has value >255") would
		// quote the address a second time, uncut.
		addr, err := parseIP(unbracket(ip))
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

// NormalizeExtraHost reads an --add-host value as docker's CLI (opts.ValidateExtraHost) and
// returns it as "name:ip", the form docker's API and inspect carry and hostsFile reads again.
func NormalizeExtraHost(h string) (string, error) {
	name, ip, err := splitExtraHost(h)
	if err != nil {
		return "", err
	}
	if _, err := parseIP(unbracket(ip)); err != nil {
		return "", fmt.Errorf("invalid IP address in --add-host: %s", quote.Value(ip))
	}
	return name + ":" + unbracket(ip), nil
}

// NormalizeDNS reads a --dns value as docker's CLI (opts.ValidateIPAddress): an IP address,
// whitespace around it allowed, returned in its normal form ("2001:db8::1" for
// "2001:DB8:0::1", an IPv4-mapped address as its IPv4 one), which resolv.conf and inspect
// then show, as docker's do.
func NormalizeDNS(d string) (string, error) {
	a, err := parseIP(strings.TrimSpace(d))
	if err != nil {
		return "", fmt.Errorf("invalid IP address in --dns: %s", quote.Value(d))
	}
	return a.Unmap().String(), nil
}

// splitExtraHost splits an --add-host value as docker's CLI (opts.ValidateExtraHost, docker
// 25 and later): "name=ip" at the first '=' if there is one, else "name:ip" at the first ':',
// so that "h:::1" and "h=::1" both name ::1; a name holding ':' is refused. The address is
// returned as given, brackets and all (see unbracket). docker's "host-gateway" names the host's
// address on the container's bridge network, which strata does not make: it is refused.
func splitExtraHost(h string) (name, ip string, err error) {
	name, ip, ok := strings.Cut(h, "=")
	if !ok {
		name, ip, ok = strings.Cut(h, ":")
	}
	if !ok || name == "" || strings.Contains(name, ":") {
		return "", "", fmt.Errorf("invalid --add-host %s: want name:ip or name=ip", quote.Value(h))
	}
	// A space, tab or newline in the name would add names or whole lines to the file.
	if i := strings.IndexFunc(name, badHostsRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return "", "", fmt.Errorf("invalid --add-host %s: the name contains %s", quote.Value(h), quote.Value(string(r)))
	}
	if ip == "host-gateway" {
		return "", "", fmt.Errorf("--add-host %s: host-gateway is the host's address on a bridge network, and strata runs none (--network none or host): %w", quote.Value(h), ErrUnsupported)
	}
	return name, ip, nil
}

// unbracket takes an --add-host address out of the square brackets around it, as docker's
// CLI does ("[::1]", and "[127.0.0.1]" too); a lone bracket stays, for the address to be
// refused.
func unbracket(ip string) string {
	if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
		return ip[1 : len(ip)-1]
	}
	return ip
}

// validateHostname checks a container's hostname as docker does since it dropped its RFC
// 1123 check: at most the 64 bytes the kernel's sethostname takes
// (HOST_NAME_MAX), any byte but those that would break the files it is written to. It is the
// whole of /etc/hostname and a name on a line of /etc/hosts, where whitespace or a control
// character (a newline, a tab, a NUL) would end the name or the line and add names or lines
// of the user's own, and a '#' would start a comment.
func validateHostname(h string) error {
	if len(h) > 64 {
		return fmt.Errorf("invalid hostname %s: longer than 64 bytes", quote.Value(h))
	}
	if h == "" {
		return nil // no ID to name it after: no hostname, and no line in /etc/hosts
	}
	if i := strings.IndexFunc(h, func(r rune) bool { return badHostsRune(r) || r == '#' }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(h[i:])
		return fmt.Errorf("invalid hostname %s: contains %s, which /etc/hosts cannot hold in a name", quote.Value(h), quote.Value(string(r)))
	}
	return nil
}

// validateDomainname checks --domainname: what the kernel holds (64 bytes), no control
// character, and a UTS namespace of the container's own to set it in: in the host's (--uts
// host) it would rename the host's domain, and runc refuses it there too; on another
// container's network the container takes that one's names.
func validateDomainname(s Spec) error {
	d := s.Domainname
	switch {
	case d == "":
		return nil
	case len(d) > 64:
		return fmt.Errorf("invalid domainname %s: longer than 64 bytes", quote.Value(d))
	case strings.ContainsFunc(d, unicode.IsControl):
		return fmt.Errorf("invalid domainname %s: contains a control character", quote.Value(d))
	case s.UTSMode == NSHost:
		return errors.New("conflicting options: domainname and the UTS mode")
	}
	if _, ok := NSContainer(s.Network); ok {
		return errors.New("conflicting options: domainname and the network mode")
	}
	return nil
}

// resolvConf is the container's /etc/resolv.conf from the host's. With host networking the
// host's file is kept as is (a local resolver is reachable); otherwise loopback nameservers
// are dropped, because 127.0.0.53 inside the container's netns is not the host's resolver.
// As docker's, each setting given replaces the host's lines of its kind and keeps the rest:
// --dns every nameserver line, --dns-search the search and domain lines (with only "." there
// is none), --dns-option the options lines.
func resolvConf(spec Spec, host []byte) ([]byte, error) {
	for _, d := range spec.DNS {
		if _, err := parseIP(d); err != nil {
			return nil, fmt.Errorf("invalid IP address in --dns: %s", quote.Value(d))
		}
	}
	for _, d := range spec.DNSSearch {
		if _, err := NormalizeDNSSearch(d); err != nil {
			return nil, err
		}
	}
	for _, o := range spec.DNSOptions {
		if err := CheckDNSOption(o); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 1 {
			switch fields[0] {
			case "nameserver":
				if len(spec.DNS) > 0 {
					continue
				}
				if spec.Network != NetworkHost && len(fields) >= 2 {
					if a, err := netip.ParseAddr(fields[1]); err == nil && a.IsLoopback() {
						continue
					}
				}
			case "search", "domain":
				if len(spec.DNSSearch) > 0 {
					continue
				}
			case "options":
				if len(spec.DNSOptions) > 0 {
					continue
				}
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	for _, d := range spec.DNS {
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	if len(spec.DNSSearch) > 0 && !(len(spec.DNSSearch) == 1 && spec.DNSSearch[0] == ".") {
		fmt.Fprintf(&b, "search %s\n", strings.Join(spec.DNSSearch, " "))
	}
	if len(spec.DNSOptions) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(spec.DNSOptions, " "))
	}
	return b.Bytes(), nil
}

// maxDomain is the longest --dns-search domain docker's CLI takes, in bytes.
const maxDomain = 254

// NormalizeDNSSearch reads a --dns-search value as docker's CLI (opts.ValidateDNSSearch): "."
// (no search domain), or a domain name of letters, digits and inner hyphens in dot-separated
// labels, with at least one letter and perhaps a final dot; spaces around it are dropped.
func NormalizeDNSSearch(d string) (string, error) {
	v := strings.Trim(d, " ")
	if v == "." {
		return v, nil
	}
	if !validDomain(strings.TrimSuffix(v, ".")) || len(v) > maxDomain {
		return "", fmt.Errorf("invalid --dns-search %s: not a valid domain", quote.Value(d))
	}
	return v, nil
}

// validDomain says whether d is dot-separated labels of ASCII letters, digits and hyphens
// that neither begin nor end a label, with a letter somewhere.
func validDomain(d string) bool {
	if !strings.ContainsFunc(d, func(r rune) bool { return r < utf8.RuneSelf && unicode.IsLetter(r) }) {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// CheckDNSOption refuses a --dns-option that resolv.conf cannot hold as one option: empty, or
// with whitespace or control characters (a newline would add a line of its own).
func CheckDNSOption(o string) error {
	if o == "" || strings.ContainsFunc(o, func(r rune) bool { return badHostsRune(r) || r == '#' || r == ';' }) {
		return fmt.Errorf("invalid --dns-option %s: want one resolv.conf option, such as ndots:2", quote.Value(o))
	}
	return nil
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
	resolv, err := resolvConf(spec, hostResolv)
	if err != nil {
		return err
	}
	hosts, resolv = donorEtc(spec, hosts, resolv)
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
	if durable {
		err = os.Rename(f.Name(), name)
	} else {
		err = replaceLazily(f.Name(), name)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// replaceLazily moves tmp, a regular file, to name as a rename does, for a file nobody
// fsyncs. Over an existing name it exchanges the two (renameat2 RENAME_EXCHANGE, as atomic
// for readers as a rename) and then removes the old file from tmp's name: a rename over an
// existing file makes ext4 (auto_da_alloc) allocate and write the new file's blocks at once,
// a disk write at every state change of a container, whose removal a disk mounted with
// discard then waits for as well (a --rm container's state.json, rewritten twice and removed
// within milliseconds). A file system without the exchange gets the rename.
func replaceLazily(tmp, name string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, name, unix.RENAME_EXCHANGE)
	if err != nil {
		return os.Rename(tmp, name) // ENOENT: nothing to replace; EINVAL: no exchange here
	}
	if err := unix.Unlink(tmp); err != nil {
		// Not a file at name (a directory): put it back, and fail as the rename would.
		_ = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, name, unix.RENAME_EXCHANGE)
		return &os.LinkError{Op: "rename", Old: tmp, New: name, Err: err}
	}
	return nil
}
