package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLogsDamagedSaysSo: logs of a log.json damaged by hand prints the entries it can read
// and then says, in one line on stderr, how many lines it skipped and where the first is:
// it skipped them without a word, so the output looked whole.
func TestLogsDamagedSaysSo(t *testing.T) {
	root := loadedTestImages(t)
	id, err := strata(t, root, nil, "create", "--name", "dmg", "alpine", "true")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	good := `{"log":"readable\n","stream":"stdout","time":"2026-11-28T10:00:00Z"}` + "\n"
	log := good + "garbage\n" + `{"log":"cut` + "\n" + good
	path := filepath.Join(root, "containers", id, "log.json")
	if err := os.WriteFile(path, []byte(log), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"logs", "dmg"}, {"logs", "--tail", "5", "dmg"}, {"logs", "-f", "dmg"}} {
		cmd := newRootCmd(&globals{})
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append([]string{"--root", root}, args...))
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("%v = %v", args, err)
		}
		if out.String() != "readable\nreadable\n" {
			t.Errorf("%v printed %q, want both readable lines", args, out.String())
		}
		want := "strata: warning: 2 lines of the log of container dmg could not be read and were skipped (the first at byte " +
			strconv.Itoa(len(good)) + " of " + path + ")\n"
		if errOut.String() != want {
			t.Errorf("%v stderr = %q, want %q", args, errOut.String(), want)
		}
	}
	if _, err := strata(t, root, nil, "rm", "dmg"); err != nil {
		t.Fatal(err)
	}
}
