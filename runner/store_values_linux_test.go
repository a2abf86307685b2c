package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestStoreStateBadValues: a state.json that is JSON but not a state strata writes (a time
// that does not parse, a status strata never records, null, an empty object) reads as an
// exit of unknown status, as a state.json that is no JSON does: the container stays listed,
// found by name, and removable. A time that did not parse failed every read of the
// container: ps -a hid it, rm said "no such container" and its dir stayed for good, its name
// taken by the next create.
func TestStoreStateBadValues(t *testing.T) {
	for name, content := range map[string]string{
		"bad startedAt":  `{"status":"exited","startedAt":"garbage"}`,
		"bad finishedAt": `{"status":"running","pid":1,"finishedAt":"1 May"}`,
		"unknown status": `{"status":"banana"}`,
		"dead status":    `{"status":"dead"}`,
		"no status":      `{"exitCode":0}`,
		"empty object":   `{}`,
		"null":           `null`,
	} {
		t.Run(name, func(t *testing.T) {
			s, c := newStoreWith(t, "victim")
			if err := os.WriteFile(filepath.Join(c.Dir, stateFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get("victim")
			if err != nil {
				t.Fatalf("Get(victim) = %v", err)
			}
			if got.Broken != nil || got.State.Status != StatusExited || got.State.ExitCode != ExitUnknown || got.State.Error == "" {
				t.Errorf("state %s: broken %v, state %+v; want exited %d with an error", content, got.Broken, got.State, ExitUnknown)
			}
			if list, err := s.List(); err != nil || len(list) != 1 || list[0].ID != c.ID {
				t.Errorf("List = %v, %v; want the container", list, err)
			}
			if err := s.Remove(context.Background(), got, true); err != nil {
				t.Fatalf("Remove = %v", err)
			}
			if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("container dir after Remove: %v, want gone", err)
			}
		})
	}
}

// TestStoreConfigNoName: a config.json that decodes but names no container (null, {}, a
// spec alone) is not one strata wrote: the container is broken, listed dead under the name
// its link gives it, and found by that name. It was listed as a created container with no
// name, which rm NAME could not find.
func TestStoreConfigNoName(t *testing.T) {
	for name, content := range map[string]string{
		"null":         `null`,
		"empty object": `{}`,
		"spec only":    `{"spec":{"args":["true"]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			s, c := newStoreWith(t, "victim")
			if err := os.WriteFile(filepath.Join(c.Dir, configFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			list, err := s.List()
			if err != nil || len(list) != 1 {
				t.Fatalf("List = %v, %v; want the container", list, err)
			}
			if got := list[0]; !errors.Is(got.Broken, ErrBroken) || got.State.Status != StatusDead || got.Name() != "victim" {
				t.Errorf("List()[0]: broken %v, status %s, name %q; want ErrBroken, dead, victim", got.Broken, got.State.Status, got.Name())
			}
			got, err := s.Get("victim")
			if err != nil || got.ID != c.ID {
				t.Fatalf("Get(victim) = %v, %v; want %s", got, err, c.ID[:12])
			}
			if err := s.Remove(context.Background(), got, false); err != nil {
				t.Fatalf("Remove = %v", err)
			}
			if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("container dir after Remove: %v, want gone", err)
			}
		})
	}
}
