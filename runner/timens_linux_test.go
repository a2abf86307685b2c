package runner

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

func TestParseTimeNamespace(t *testing.T) {
	tests := []struct {
		ns      []string
		offsets string
		want    *TimeNamespace
		wantErr bool
	}{
		{},
		{ns: []string{"time=host"}},
		{ns: []string{"time=new"}, want: &TimeNamespace{}},
		{ns: []string{"time=new"}, offsets: "monotonic=86400,boottime=-1.5", want: &TimeNamespace{Monotonic: 24 * time.Hour, Boottime: -1500 * time.Millisecond}},
		{offsets: "boottime=10", want: &TimeNamespace{Boottime: 10 * time.Second}},
		{ns: []string{"net=host"}, wantErr: true},
		{ns: []string{"time=new"}, offsets: "realtime=5", wantErr: true},
		{ns: []string{"time=new"}, offsets: "monotonic", wantErr: true},
		{ns: []string{"time=new"}, offsets: "monotonic=NaN", wantErr: true},
		{ns: []string{"time=new"}, offsets: "boottime=1e300", wantErr: true},
		// Values of a megabyte, quoted back cut in the error.
		{ns: []string{strings.Repeat("x", 1<<20)}, wantErr: true},
		{offsets: "monotonic=" + strings.Repeat("1", 1<<20), wantErr: true},
		{offsets: strings.Repeat("x", 1<<20) + "=1", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTimeNamespace(tt.ns, tt.offsets)
		if err != nil && len(err.Error()) > 512 {
			t.Errorf("ParseTimeNamespace(%.40q, %.40q) error is %d bytes, want it cut", tt.ns, tt.offsets, len(err.Error()))
		}
		if (err != nil) != tt.wantErr || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseTimeNamespace(%q, %q) = %v, %v, want %v (error %v)", tt.ns, tt.offsets, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestOffsetsFile(t *testing.T) {
	got := TimeNamespace{Monotonic: 86400 * time.Second, Boottime: -1500 * time.Millisecond}.offsetsFile()
	want := "monotonic 86400 0\nboottime -2 500000000\n"
	if got != want {
		t.Errorf("offsetsFile() = %q, want %q", got, want)
	}
}

// uptime parses the first field of /proc/uptime as printed by a container command.
func uptime(t *testing.T, out string) float64 {
	t.Helper()
	f := strings.Fields(out)
	if len(f) == 0 {
		t.Fatalf("no uptime in %q", out)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTimeNamespace runs a container whose boot time is a million seconds earlier than the
// host's: /proc/uptime reads the boottime clock of the reader's time namespace. An exec into
// it reads the same clock, from a namespace made with the same offsets.
func TestTimeNamespace(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay, testutil.Path("/proc/self/timens_offsets"))
	const shift = 1e6
	c := startedContainer(t, func(s *Spec) { s.Time = &TimeNamespace{Boottime: shift * time.Second} }, "sleep", "1000")
	pid := c.State.Pid
	host, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	if own, _ := nsDiffers(pid, "time"); !own {
		t.Fatalf("container pid %d shares strata's time namespace", pid)
	}
	offsets, err := os.ReadFile(fmt.Sprintf("/proc/%d/timens_offsets", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(offsets)), " "), "boottime 1000000 0") {
		t.Errorf("timens_offsets of the container = %q, want boottime 1000000 0", offsets)
	}
	code, out, errOut, err := execOut(t, c, ExecOptions{Args: []string{"cat", "/proc/uptime"}})
	if err != nil || code != 0 {
		t.Fatalf("Exec(cat /proc/uptime) = %d, %v; stderr: %s", code, err, errOut)
	}
	if got, h := uptime(t, out), uptime(t, string(host)); got < h+shift {
		t.Errorf("uptime in exec = %.0f, want at least the host's %.0f + %.0f", got, h, shift)
	}
}

// TestTimeNamespaceRun checks the command itself, the init's execve, enters the namespace.
func TestTimeNamespaceRun(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay, testutil.Path("/proc/self/timens_offsets"))
	const shift = 1e6
	for _, init := range []bool{false, true} {
		t.Run(fmt.Sprintf("init=%v", init), func(t *testing.T) {
			if init {
				// The reaper is the test binary, run inside the container.
				testutil.Requires(t, staticSelf)
			}
			spec := testSpec(t, "cat", "/proc/uptime")
			spec.Time = &TimeNamespace{Boottime: shift * time.Second}
			spec.Init = init
			host, err := os.ReadFile("/proc/uptime")
			if err != nil {
				t.Fatal(err)
			}
			if got, h := uptime(t, mustRun(t, spec)), uptime(t, string(host)); got < h+shift {
				t.Errorf("uptime in a container = %.0f, want at least the host's %.0f + %.0f", got, h, shift)
			}
		})
	}
}
