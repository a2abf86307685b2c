package runner

import (
	"fmt"
	"os"
)

// exeProbeMarker makes the test binary, when a container runs it through /proc/self/exe,
// try to open its own binary for writing: the CVE-2019-5736 attack.
const exeProbeMarker = "strata-exe-probe"

// exeProbe prints "writable" if the binary that runs it can be opened for writing, else the
// error, then exits.
func exeProbe() {
	f, err := os.OpenFile("/proc/self/exe", os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		fmt.Println("writable")
		os.Exit(0)
	}
	fmt.Println("refused:", err)
	os.Exit(0)
}
