package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// swapperSource is a static program for a container: it swaps two names with
// renameat2(RENAME_EXCHANGE), forever, so each name is now a directory, now a symlink, with
// no moment where it is missing (the race of CVE-2018-15664, as tight as it gets).
const swapperSource = `package main

import (
	"os"
	"syscall"
	"unsafe"
)

func main() {
	a, _ := syscall.BytePtrFromString(os.Args[1])
	b, _ := syscall.BytePtrFromString(os.Args[2])
	const atFDCWD = ^uintptr(99) // -100
	for {
		syscall.Syscall6(SYS_RENAMEAT2, atFDCWD, uintptr(unsafe.Pointer(a)), atFDCWD, uintptr(unsafe.Pointer(b)), 2, 0)
	}
}
`

// buildSwapper builds swapperSource for this machine, static.
func buildSwapper(t *testing.T) string {
	t.Helper()
	nr := map[string]string{"amd64": "316", "arm64": "276", "riscv64": "276", "s390x": "347", "ppc64le": "357"}[runtime.GOARCH]
	if nr == "" {
		t.Skipf("skipping: renameat2's number on %s", runtime.GOARCH)
	}
	dir := t.TempDir()
	src := strings.Replace(swapperSource, "func main", "const SYS_RENAMEAT2 = "+nr+"\n\nfunc main", 1)
	for name, body := range map[string]string{"main.go": src, "go.mod": "module swapper\n\ngo 1.21\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "swap")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("skipping: building the swapper: %v\n%s", err, out)
	}
	return bin
}

// TestHostileExchangeLoop: a running container swaps a directory with a symlink to a host
// dir's path, and another with a symlink to "/", in renameat2(RENAME_EXCHANGE) loops, while
// the host copies out of and into those paths, lists its changes, exports and commits it.
// Nothing of the host dir is ever read (its file's content, or its name) nor written.
func TestHostileExchangeLoop(t *testing.T) {
	root := busyboxRoot(t)
	swap := buildSwapper(t)
	canary := t.TempDir() // on the host; the container has no such path
	// secret is copied out and over; unnamed, only a listing of the host dir shows.
	const secret, unnamed = "host-secret-7c2e", "host-unnamed-9d1f"
	writeFiles(t, map[string]string{canary + "/" + secret: "host", canary + "/" + unnamed: "host"})
	mustStrata(t, root, "run", "-d", "--name", "xl", cpImage, "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "xl") })
	mustStrata(t, root, "cp", swap, "xl:/swap")
	mustStrata(t, root, "exec", "-d", "xl", "sh", "-c",
		"mkdir /sw && echo ctr > /sw/f && ln -s "+canary+" /swl && exec /swap /sw /swl")
	mustStrata(t, root, "exec", "-d", "xl", "sh", "-c",
		"mkdir /sr && echo ctr > /sr/f && ln -s / /srl && exec /swap /sr /srl")
	host := t.TempDir()
	writeFiles(t, map[string]string{host + "/new": "new", host + "/" + secret: "overwritten"})
	out := t.TempDir()
	for i := 0; i < 25; i++ {
		for _, p := range []string{"/sw", "/swl", "/srl" + canary, "/sr" + canary} {
			for _, flags := range [][]string{nil, {"-L"}} {
				dst := filepath.Join(out, "o")
				os.RemoveAll(dst)
				strata(t, root, append(append([]string{"cp"}, flags...), "xl:"+p+"/"+secret, dst)...)
				if b, err := os.ReadFile(dst); err == nil && string(b) == "host" {
					t.Fatalf("cp %v xl:%s/%s read the host's file", flags, p, secret)
				}
				strata(t, root, append(append([]string{"cp"}, flags...), host+"/new", "xl:"+p+"/")...)
				strata(t, root, append(append([]string{"cp"}, flags...), host+"/"+secret, "xl:"+p+"/"+secret)...)
			}
		}
		if r := strata(t, root, "diff", "xl"); strings.Contains(r.Stdout, unnamed) {
			t.Fatalf("diff listed the host dir's file through /swl:\n%s", r.Stdout)
		}
		if i%5 == 0 {
			if r := strata(t, root, "export", "xl"); r.Code != 0 {
				t.Errorf("export of a container swapping its dirs: %d %s", r.Code, r.Stderr)
			} else if strings.Contains(r.Stdout, unnamed) {
				t.Fatalf("export read the host's dir")
			}
		}
	}
	entries, _ := os.ReadDir(canary)
	if len(entries) != 2 || readFile(t, canary+"/"+secret) != "host" || readFile(t, canary+"/"+unnamed) != "host" {
		t.Errorf("the host's dir %s changed: %v", canary, entries)
	}
}
