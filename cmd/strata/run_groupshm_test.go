package main

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
)

// TestRunGroupAddShmSize: --group-add and --shm-size, as run and create parse them, reach the
// Spec (and so config.json, which start runs): the groups as given, the size in bytes with
// docker's units, 0 or none for the default; a bad size is a one-line error naming the flag.
func TestRunGroupAddShmSize(t *testing.T) {
	image := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}}}
	for _, tt := range []struct {
		args     []string
		groupAdd []string
		shm      int64
		wantErr  string
	}{
		{args: nil},
		{args: []string{"--group-add", "audio", "--group-add", "1234"}, groupAdd: []string{"audio", "1234"}},
		{args: []string{"--shm-size", "1m"}, shm: 1 << 20},
		{args: []string{"--shm-size", "1048576"}, shm: 1 << 20},
		{args: []string{"--shm-size", "2g"}, shm: 2 << 30},
		{args: []string{"--shm-size", "512MiB"}, shm: 512 << 20},
		{args: []string{"--shm-size", "1.5k"}, shm: 1536},
		{args: []string{"--shm-size", "0"}, shm: 0},
		{args: []string{"--shm-size", "abc"}, wantErr: `invalid --shm-size value "abc"`},
		{args: []string{"--shm-size", "-1"}, wantErr: `invalid --shm-size value "-1"`},
		{args: []string{"--shm-size", "1x"}, wantErr: `invalid --shm-size value "1x"`},
		{args: []string{"--shm-size", "99999999999g"}, wantErr: `invalid --shm-size value "99999999999g": out of range`},
		{args: []string{"--shm-size="}, wantErr: `invalid --shm-size value ""`},
		{args: []string{"--shm-size", "a\nb"}, wantErr: `invalid --shm-size value "a\nb"`},
	} {
		// The flags run and create share, as both add them.
		var o runOptions
		cmd := &cobra.Command{Use: "run"}
		addContainerFlags(cmd, &o)
		if err := cmd.ParseFlags(tt.args); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		o.shmSizeSet = cmd.Flags().Changed("shm-size")
		spec, err := o.spec(image, nil)
		if _, shmErr := o.shmBytes(); (shmErr == nil) != (err == nil) {
			t.Errorf("%q: shmBytes says %v, spec %v: the early check and the spec differ", tt.args, shmErr, err)
		}
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: error %v, want %s", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(spec.GroupAdd, tt.groupAdd) || spec.ShmSize != tt.shm {
			t.Errorf("%q: spec GroupAdd %q, ShmSize %d, %v; want %q, %d", tt.args, spec.GroupAdd, spec.ShmSize, err, tt.groupAdd, tt.shm)
		}
	}
	for _, cmd := range []*cobra.Command{newRunCmd(&globals{}), newCreateCmd(&globals{})} {
		for _, name := range []string{"group-add", "shm-size"} {
			if cmd.Flags().Lookup(name) == nil {
				t.Errorf("%s has no --%s", cmd.Name(), name)
			}
		}
	}
}
