// Package logger is docker's logger.Info, what a --log-opt tag template sees of a container
// (package tagtemplate renders one). It is named as docker's package so a template's errors
// name the same type ("can't evaluate field X in type *logger.Info"). It links no
// text/template: runner, which the init helper links, builds an Info.
package logger

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Info is what a tag template sees of a container: docker's logger.Info, its fields and
// methods.
type Info struct {
	Config              map[string]string
	ContainerID         string
	ContainerName       string // with docker's leading "/"
	ContainerEntrypoint string // the command's first word, as docker's container.Path
	ContainerArgs       []string
	ContainerImageID    string // sha256:...
	ContainerImageName  string
	ContainerCreated    time.Time
	ContainerEnv        []string
	ContainerLabels     map[string]string
	LogPath             string
	DaemonName          string
}

// Hostname is the host's name, as docker's daemon gives it.
func (info *Info) Hostname() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("logger: can not resolve hostname: %v", err)
	}
	return h, nil
}

// Command is the container's command, its words joined by spaces.
func (info *Info) Command() string {
	return strings.Join(append([]string{info.ContainerEntrypoint}, info.ContainerArgs...), " ")
}

// ID is the container's ID cut to 12 characters.
func (info *Info) ID() string { return truncateID(info.ContainerID) }

// FullID is the container's ID.
func (info *Info) FullID() string { return info.ContainerID }

// Name is the container's name without its leading "/".
func (info *Info) Name() string { return strings.TrimPrefix(info.ContainerName, "/") }

// ImageID is the image's ID without "sha256:", cut to 12 characters.
func (info *Info) ImageID() string { return truncateID(info.ContainerImageID) }

// ImageFullID is the image's ID, sha256:...
func (info *Info) ImageFullID() string { return info.ContainerImageID }

// ImageName is the image as the container was created from it.
func (info *Info) ImageName() string { return info.ContainerImageName }

func truncateID(id string) string {
	if i := strings.IndexRune(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}
