package seccomp

import "fmt"

// ParseKernel reads "<kernel>.<major>" from a uname release ("6.18.0-1-amd64" → 6.18), the
// precision minKernel conditions have; the rest of the release is ignored, as moby does.
func ParseKernel(release string) (KernelVersion, error) {
	var v KernelVersion
	if _, err := fmt.Sscanf(release, "%d.%d", &v.Kernel, &v.Major); err != nil {
		return KernelVersion{}, fmt.Errorf("parsing kernel release %q: %w", release, err)
	}
	return v, nil
}
