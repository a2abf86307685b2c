package runner

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseUlimits(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    []Ulimit
		wantErr string
	}{
		{in: nil, want: nil},
		{in: []string{"nofile=1024"}, want: []Ulimit{{Name: "nofile", Soft: 1024, Hard: 1024}}},
		{in: []string{"nofile=512:2048", "core=0"}, want: []Ulimit{{Name: "nofile", Soft: 512, Hard: 2048}, {Name: "core", Soft: 0, Hard: 0}}},
		{in: []string{"memlock=-1"}, want: []Ulimit{{Name: "memlock", Soft: -1, Hard: -1}}},
		{in: []string{"stack=8388608:-1"}, want: []Ulimit{{Name: "stack", Soft: 8388608, Hard: -1}}},
		// A later value for a type replaces the earlier one, in its place (docker keeps one per type).
		{in: []string{"nproc=10", "cpu=5", "nproc=20:30"}, want: []Ulimit{{Name: "nproc", Soft: 20, Hard: 30}, {Name: "cpu", Soft: 5, Hard: 5}}},
		{in: []string{"nofile"}, wantErr: `invalid --ulimit "nofile": want TYPE=SOFT[:HARD]`},
		{in: []string{"bogus=1"}, wantErr: `invalid --ulimit "bogus=1": unknown type "bogus" (want one of core, cpu, data,`},
		{in: []string{"NOFILE=1"}, wantErr: `unknown type "NOFILE"`},
		{in: []string{"nofile=abc"}, wantErr: `invalid --ulimit "nofile=abc": limit "abc" is not a number (or -1 for unlimited)`},
		{in: []string{"nofile=1:2:3"}, wantErr: `limit "2:3" is not a number`},
		{in: []string{"nofile="}, wantErr: `limit "" is not a number`},
		{in: []string{"nofile=-2"}, wantErr: `limit "-2" is not a number`},
		{in: []string{"nofile=1k"}, wantErr: `limit "1k" is not a number`},
		{in: []string{"nofile=99999999999999999999"}, wantErr: `is not a number`},
		{in: []string{"nofile=2048:1024"}, wantErr: `invalid --ulimit "nofile=2048:1024": soft limit 2048 is above the hard limit 1024`},
		{in: []string{"nofile=-1:1024"}, wantErr: `soft limit unlimited is above the hard limit 1024`},
	} {
		got, err := ParseUlimits(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseUlimits(%q) = %v, %v; want one line with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseUlimits(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestUlimitRlimit: -1 is RLIM_INFINITY, and every docker name maps to a distinct resource.
func TestUlimitRlimit(t *testing.T) {
	res, lim := Ulimit{Name: "nofile", Soft: 10, Hard: -1}.rlimit()
	if res != unix.RLIMIT_NOFILE || lim.Cur != 10 || lim.Max != unix.RLIM_INFINITY {
		t.Errorf("rlimit() = %d, %+v; want RLIMIT_NOFILE, 10, infinity", res, lim)
	}
	seen := map[int]string{}
	for name, r := range ulimitResources {
		if other, ok := seen[r]; ok {
			t.Errorf("%s and %s set the same resource %d", name, other, r)
		}
		seen[r] = name
	}
	if len(seen) != 15 {
		t.Errorf("%d ulimit types, want docker's 15", len(seen))
	}
}

// TestCheckUlimits: a hard limit above this process's own is refused (unless it holds
// CAP_SYS_RESOURCE); one at or below it, and any soft limit within it, passes.
func TestCheckUlimits(t *testing.T) {
	var have unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &have); err != nil {
		t.Fatal(err)
	}
	if have.Max == unix.RLIM_INFINITY || have.Max > 1<<62 {
		t.Skipf("RLIMIT_NOFILE's hard limit is %d: nothing is above it", have.Max)
	}
	hard := int64(have.Max)
	if err := CheckUlimits([]Ulimit{{Name: "nofile", Soft: hard - 1, Hard: hard}, {Name: "core", Soft: 0, Hard: 0}}); err != nil {
		t.Errorf("CheckUlimits(nofile at the hard limit) = %v", err)
	}
	if hasEffectiveCap(unix.CAP_SYS_RESOURCE) {
		t.Skip("this process holds CAP_SYS_RESOURCE: it may raise hard limits")
	}
	for _, u := range []Ulimit{{Name: "nofile", Soft: 1, Hard: hard + 1}} {
		if n := nrOpen(); n > 0 && uint64(u.Hard) > n {
			continue // TestCheckUlimitsNrOpen
		}
		err := CheckUlimits([]Ulimit{{Name: "core", Soft: 0, Hard: 0}, u})
		if err == nil || !strings.Contains(err.Error(), "--ulimit nofile: hard limit") || !strings.Contains(err.Error(), "CAP_SYS_RESOURCE") {
			t.Errorf("CheckUlimits(%+v) = %v, want the hard limit refused", u, err)
		}
	}
}

// TestValidateUlimits: a spec stored or made without ParseUlimits is checked too.
func TestValidateUlimits(t *testing.T) {
	for _, u := range []Ulimit{{Name: "bogus", Soft: 1, Hard: 1}, {Name: "nofile", Soft: 2, Hard: 1}, {Name: "nofile", Soft: -5, Hard: -1}} {
		spec := Spec{Args: []string{"true"}, Ulimits: []Ulimit{u}}
		if err := spec.validateInput(); err == nil {
			t.Errorf("validateInput() with ulimit %+v = nil, want an error", u)
		}
	}
	spec := Spec{Args: []string{"true"}, Ulimits: []Ulimit{{Name: "nofile", Soft: 1, Hard: -1}}}
	if err := spec.validateInput(); err != nil {
		t.Errorf("validateInput() = %v", err)
	}
}

// TestCheckUlimitsNrOpen: a nofile hard limit above the kernel's fs.nr_open, unlimited
// included, is refused in words that say so, with or without CAP_SYS_RESOURCE (which cannot
// raise it): it was refused for want of the capability, or, held, failed at the init's
// setrlimit as "operation not permitted". One at fs.nr_open is judged as before.
func TestCheckUlimitsNrOpen(t *testing.T) {
	n := nrOpen()
	if n == 0 || n > 1<<62 {
		t.Skipf("fs.nr_open is %d", n)
	}
	for _, u := range []Ulimit{{Name: "nofile", Soft: 1, Hard: int64(n) + 1}, {Name: "nofile", Soft: 1, Hard: -1}, {Name: "nofile", Soft: -1, Hard: -1}} {
		err := CheckUlimits([]Ulimit{{Name: "core", Soft: 0, Hard: 0}, u})
		want := fmt.Sprintf("--ulimit nofile: hard limit %s is above the kernel's maximum of %d open files (fs.nr_open)", limitString(u.Hard), n)
		if err == nil || err.Error() != want {
			t.Errorf("CheckUlimits(%+v) = %v, want %s", u, err, want)
		}
	}
	err := CheckUlimits([]Ulimit{{Name: "nofile", Soft: 1, Hard: int64(n)}})
	if err != nil && strings.Contains(err.Error(), "nr_open") {
		t.Errorf("CheckUlimits(nofile at fs.nr_open) = %v", err)
	}
	// Other resources have no such bound.
	if err := CheckUlimits([]Ulimit{{Name: "core", Soft: -1, Hard: -1}}); err != nil && strings.Contains(err.Error(), "nr_open") {
		t.Errorf("CheckUlimits(core unlimited) = %v", err)
	}
}

// TestParseUlimitsLongValue: a bad --ulimit is quoted back cut, once per part, as other flags'
// values are: "nofile=<100 KB>" came back whole, twice, on one line of 200 KB.
func TestParseUlimitsLongValue(t *testing.T) {
	long := strings.Repeat("x", 100000)
	for _, v := range []string{long, "nofile=" + long, long + "=1", "nofile=1:" + long} {
		_, err := ParseUlimits([]string{v})
		if err == nil || len(err.Error()) > 400 || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseUlimits(%.20q…) = %.500v, want a short line", v, err)
		}
	}
}
