package archive

import (
	"errors"
	"fmt"
)

// Format is the kind of archive Save writes.
type Format string

// The formats strata writes; docs/air-gapped.md shows each in use.
const (
	// DockerArchive is the default of `strata save`: loads with docker and podman.
	DockerArchive Format = "docker-archive"
	// OCIArchive is a tar of an OCI image layout.
	OCIArchive Format = "oci-archive"
	// OCIDir is an OCI image layout directory; SaveDir writes it.
	OCIDir Format = "oci-dir"
)

// ErrUnknownFormat is returned by ParseFormat for a name it does not know.
var ErrUnknownFormat = errors.New("unknown archive format")

// ParseFormat parses the --format of `strata save`; "" is DockerArchive.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "":
		return DockerArchive, nil
	case DockerArchive, OCIArchive, OCIDir:
		return f, nil
	}
	return "", fmt.Errorf("%w %q: want docker-archive, oci-archive or oci-dir", ErrUnknownFormat, s)
}
