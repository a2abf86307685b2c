package runner

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestParseSignalDockerMap: ParseSignal takes exactly the names of docker's Linux signal map
// (moby/sys/signal), with or without SIG, in any case. CLD, IOT and POLL were refused, and
// RTMIN+16 to RTMIN+30 (and RTMAX-15 to RTMAX-30) were taken though docker has no such name.
func TestParseSignalDockerMap(t *testing.T) {
	docker := map[string]syscall.Signal{
		"ABRT": 6, "ALRM": 14, "BUS": 7, "CHLD": 17, "CLD": 17, "CONT": 18, "FPE": 8, "HUP": 1,
		"ILL": 4, "INT": 2, "IO": 29, "IOT": 6, "KILL": 9, "PIPE": 13, "POLL": 29, "PROF": 27,
		"PWR": 30, "QUIT": 3, "SEGV": 11, "STKFLT": 16, "STOP": 19, "SYS": 31, "TERM": 15,
		"TRAP": 5, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "USR1": 10, "USR2": 12,
		"VTALRM": 26, "WINCH": 28, "XCPU": 24, "XFSZ": 25, "RTMIN": 34, "RTMAX": 64,
	}
	for n := 1; n <= 15; n++ {
		docker["RTMIN+"+strconv.Itoa(n)] = syscall.Signal(34 + n)
	}
	for n := 1; n <= 14; n++ {
		docker["RTMAX-"+strconv.Itoa(n)] = syscall.Signal(64 - n)
	}
	for name, want := range docker {
		for _, in := range []string{name, "SIG" + name, strings.ToLower(name), "sig" + strings.ToLower(name), "Sig" + name} {
			if got, err := ParseSignal(in); err != nil || got != want {
				t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
			}
		}
	}
	for _, in := range []string{
		"", "SIG", "SIGSIGTERM", "UNUSED", "SIGUNUSED", "EMT", "LOST", "INFO", "TERM ", " TERM",
		"RTMIN+0", "RTMIN+16", "RTMIN+30", "RTMIN+01", "RTMAX-0", "RTMAX-15", "RTMAX-30", "RTMAX-01",
		"RTMIN-1", "RTMAX+1", "RTMIN+", "RTMAX-",
	} {
		if got, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) = %d, want an error (docker has no such signal)", in, got)
		}
	}
}
