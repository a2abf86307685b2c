package runner

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// exeProbeEnv makes the test binary, when a container runs it through /proc/self/exe, probe
// its own binary the way CVE-2019-5736 attacked runc's.
const exeProbeEnv = "STRATA_TEST_EXE_PROBE"

// exeProbe tries to open its own binary for writing, directly and through an O_PATH reopen,
// then reports whether the binary is protected for good: a memfd sealed against writes, or a
// file on a read-only mount. (A failed open alone proves little: a running binary refuses
// writers with ETXTBSY, and the attack waited for it to exit.)
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
	seals, serr := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	var st unix.Statfs_t
	ferr := unix.Fstatfs(int(f.Fd()), &st)
	switch {
	case serr == nil && seals&unix.F_SEAL_WRITE != 0:
		fmt.Println(" protected: sealed memfd")
	case ferr == nil && st.Flags&unix.ST_RDONLY != 0:
		fmt.Println(" protected: read-only mount")
	default:
		fmt.Println(" not protected:", seals, serr, st.Flags, ferr)
	}
	os.Exit(0)
}
