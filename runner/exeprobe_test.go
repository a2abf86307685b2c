package runner

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// exeProbeEnv makes the test binary, when a container runs it through /proc/self/exe, probe
// its own binary the way CVE-2019-5736 attacked runc's.
const exeProbeEnv = "STRATA_TEST_EXE_PROBE"

// exeProbe tries to open its own binary for writing, then reports whether the binary is a
// memfd sealed against writes (which no later open, by any process, can get around).
func exeProbe() {
	if f, err := os.OpenFile("/proc/self/exe", os.O_WRONLY, 0); err == nil {
		f.Close()
		fmt.Println("writable")
		os.Exit(0)
	} else {
		fmt.Print("refused: ", err)
	}
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		fmt.Println(" reopen:", err)
		os.Exit(0)
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err == nil && seals&unix.F_SEAL_WRITE != 0 {
		fmt.Println(" sealed")
	} else {
		fmt.Println(" not sealed:", seals, err)
	}
	os.Exit(0)
}
