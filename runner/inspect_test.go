package runner

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

// TestInspectMounts: each kind of mount is listed in the JSON shape of docker's MountPoint:
// binds with their -v mode and "rprivate", volumes with a name and the local driver, tmpfs
// without a source; and HostConfig.Ulimits as docker's list, [] when there is none.
func TestInspectMounts(t *testing.T) {
	id := strings.Repeat("ab", 32)
	dir := "/root/containers/" + id
	must := func(m mount.Mount, err error) mount.Mount {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	mounts := []mount.Mount{
		must(ParseVolume("/h1:/b1")),
		must(ParseVolume("/h2:/b2:ro,z")),
		must(ParseMount("type=bind,source=/,target=/b3,bind-propagation=rslave")),
		must(ParseVolume("/v1")),
		must(ParseMount("type=volume,target=/v2,readonly")),
		must(ParseTmpfs("/t1")),
	}
	mounts, err := AnonymousVolumes(map[string]struct{}{"/v3": {}}, mounts, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: id, Dir: dir, Config: Config{Spec: Spec{ID: id, Args: []string{"true"}, Mounts: mounts,
		Ulimits: []Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "core", Soft: -1, Hard: -1}}}}}
	b, err := json.Marshal(Inspect(c))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Mounts     []map[string]any
		HostConfig struct{ Ulimits json.RawMessage }
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	name := func(n string) string { return VolumeName(id, dir+"/volumes/"+n) }
	want := []string{
		`{"Destination":"/b1","Mode":"","Propagation":"rprivate","RW":true,"Source":"/h1","Type":"bind"}`,
		`{"Destination":"/b2","Mode":"ro,z","Propagation":"rprivate","RW":false,"Source":"/h2","Type":"bind"}`,
		`{"Destination":"/b3","Mode":"","Propagation":"rslave","RW":true,"Source":"/","Type":"bind"}`,
		`{"Destination":"/v1","Driver":"local","Mode":"","Name":"` + name("0") + `","Propagation":"","RW":true,"Source":"` + dir + `/volumes/0","Type":"volume"}`,
		`{"Destination":"/v2","Driver":"local","Mode":"z","Name":"` + name("1") + `","Propagation":"","RW":false,"Source":"` + dir + `/volumes/1","Type":"volume"}`,
		`{"Destination":"/t1","Mode":"","Propagation":"","RW":true,"Source":"","Type":"tmpfs"}`,
		`{"Destination":"/v3","Driver":"local","Mode":"","Name":"` + name("2") + `","Propagation":"","RW":true,"Source":"` + dir + `/volumes/2","Type":"volume"}`,
	}
	if len(got.Mounts) != len(want) {
		t.Fatalf("Inspect listed %d mounts, want %d: %s", len(got.Mounts), len(want), b)
	}
	for i, m := range got.Mounts {
		line, _ := json.Marshal(m) // map keys sorted
		if string(line) != want[i] {
			t.Errorf("Mounts[%d] = %s\nwant %s", i, line, want[i])
		}
	}
	if u := string(got.HostConfig.Ulimits); u != `[{"Name":"nofile","Hard":2048,"Soft":1024},{"Name":"core","Hard":-1,"Soft":-1}]` {
		t.Errorf("HostConfig.Ulimits = %s", u)
	}

	c.Config.Spec.Ulimits = nil
	b, _ = json.Marshal(Inspect(c))
	if !strings.Contains(string(b), `"Ulimits":[]`) {
		t.Errorf("Inspect without ulimits: %s, want \"Ulimits\":[]", b)
	}
}

// TestInspectEntrypointApart: inspect shows the entrypoint and the command apart, as docker's
// Config.Entrypoint and Config.Cmd, from the count the container's record keeps; a count the
// command cannot hold shows all as the command.
func TestInspectEntrypointApart(t *testing.T) {
	args := []string{"/entry", "-x", "cmd", "arg"}
	for _, tt := range []struct {
		n               int
		entrypoint, cmd []string
	}{
		{0, nil, args},
		{2, args[:2], args[2:]},
		{4, args, nil},
		{5, nil, args},
		{-1, nil, args},
	} {
		c := &Container{ID: strings.Repeat("a", 64), Config: Config{Spec: Spec{Args: args}, EntrypointArgs: tt.n}}
		d := Inspect(c)
		if !slices.Equal(d.Config.Entrypoint, tt.entrypoint) || !slices.Equal(d.Config.Cmd, tt.cmd) || (tt.cmd == nil) != (d.Config.Cmd == nil) {
			t.Errorf("EntrypointArgs %d: Entrypoint %q, Cmd %q; want %q, %q", tt.n, d.Config.Entrypoint, d.Config.Cmd, tt.entrypoint, tt.cmd)
		}
		if d.Path != "/entry" || !slices.Equal(d.Args, args[1:]) {
			t.Errorf("EntrypointArgs %d: Path %q, Args %q; want the whole command", tt.n, d.Path, d.Args)
		}
	}
}
