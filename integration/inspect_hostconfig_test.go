package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInspectHostConfig: `strata inspect` of a container run with a mix of flags shows them in
// docker's HostConfig as strata applied them, and its GraphDriver, ResolvConfPath and
// HostsPath name the real files: a write in the container lands in UpperDir, the hosts file
// holds the --add-host line. A container only created has no etc files yet, as docker's.
func TestInspectHostConfig(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	src := t.TempDir()

	mustStrata(t, root, "run", "-d", "--name", "hc", "-v", src+":/data:ro", "--mount", "type=bind,source="+src+",target=/m",
		"--tmpfs", "/scratch:size=1m", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "40", "--cap-drop", "NET_RAW",
		"--init", "--dns", "127.0.0.1", "--add-host", "db:127.0.0.2", "--security-opt", "no-new-privileges",
		"--dns-search", " corp.example ", "--dns-search", "example.com.", "--dns-option", "ndots:2", "--cgroupns", "host",
		"alpine", "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "hc") })
	mustStrata(t, root, "exec", "hc", "sh", "-c", "echo hi > /marker")

	out := mustStrata(t, root, "inspect", "--format", "json", "hc").Stdout // one line: raw values compare as written
	var got []struct {
		Driver         string
		ResolvConfPath string
		HostsPath      string
		HostConfig     map[string]json.RawMessage
		GraphDriver    struct {
			Data map[string]string
			Name string
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("inspect hc: %v\n%s", err, out)
	}
	d := got[0]
	for k, want := range map[string]string{
		"Binds":  `["` + src + `:/data:ro"]`,
		"Mounts": `[{"Type":"bind","Source":"` + src + `","Target":"/m"}]`,
		"Tmpfs":  `{"/scratch":"size=1048576"}`,
		"Memory": "67108864", "MemorySwap": "134217728", "NanoCpus": "500000000", "PidsLimit": "40",
		"CapDrop": `["NET_RAW"]`, "Init": "true", "Dns": `["127.0.0.1"]`, "ExtraHosts": `["db:127.0.0.2"]`,
		"SecurityOpt": `["no-new-privileges"]`, "PortBindings": "{}", "ShmSize": "67108864",
		"DnsSearch": `["corp.example","example.com."]`, "DnsOptions": `["ndots:2"]`, "CgroupnsMode": `"host"`,
	} {
		if g := string(d.HostConfig[k]); g != want {
			t.Errorf("inspect HostConfig.%s = %s, want %s", k, g, want)
		}
	}

	if d.GraphDriver.Name != d.Driver {
		t.Errorf("GraphDriver.Name %q, Driver %q: want the same", d.GraphDriver.Name, d.Driver)
	}
	switch d.GraphDriver.Name {
	case "overlay":
		if b, err := os.ReadFile(filepath.Join(d.GraphDriver.Data["UpperDir"], "marker")); err != nil || string(b) != "hi\n" {
			t.Errorf("the container wrote /marker; in UpperDir %q: %q, %v", d.GraphDriver.Data["UpperDir"], b, err)
		}
		for _, k := range []string{"WorkDir", "MergedDir"} {
			if fi, err := os.Stat(d.GraphDriver.Data[k]); err != nil || !fi.IsDir() {
				t.Errorf("GraphDriver.Data.%s = %q: %v, want a directory", k, d.GraphDriver.Data[k], err)
			}
		}
		lowers := strings.Split(d.GraphDriver.Data["LowerDir"], ":")
		if fi, err := os.Stat(filepath.Join(lowers[len(lowers)-1], "bin")); err != nil || !fi.IsDir() {
			t.Errorf("the bottom lower of %q has no /bin: %v", d.GraphDriver.Data["LowerDir"], err)
		}
	case "vfs":
		if d.GraphDriver.Data != nil {
			t.Errorf("GraphDriver.Data = %v for vfs, want null as docker's", d.GraphDriver.Data)
		}
	default:
		t.Errorf("GraphDriver.Name = %q, want overlay or vfs", d.GraphDriver.Name)
	}

	hosts, err := os.ReadFile(d.HostsPath)
	if err != nil || !strings.Contains(string(hosts), "127.0.0.2\tdb") {
		t.Errorf("HostsPath %q: %q, %v; want the --add-host line", d.HostsPath, hosts, err)
	}
	inside := mustStrata(t, root, "exec", "hc", "cat", "/etc/resolv.conf").Stdout
	for _, want := range []string{"nameserver 127.0.0.1\n", "search corp.example example.com.\n", "options ndots:2\n"} {
		if !strings.Contains(inside, want) {
			t.Errorf("the container's /etc/resolv.conf %q lacks %q", inside, want)
		}
	}
	if b, err := os.ReadFile(d.ResolvConfPath); err != nil || string(b) != inside {
		t.Errorf("ResolvConfPath %q: %q, %v; want the container's /etc/resolv.conf %q", d.ResolvConfPath, b, err, inside)
	}

	// Templates read the new fields as docker's do: a pointer's value, null and <nil>.
	tmpl := "{{.HostConfig.PidsLimit}} {{json .HostConfig.VolumesFrom}} {{.GraphDriver.Name}} {{.HostConfig.Init}}"
	if out, want := mustStrata(t, root, "inspect", "-f", tmpl, "hc").Stdout, "40 null "+d.Driver+" true\n"; out != want {
		t.Errorf("inspect -f %q = %q, want %q", tmpl, out, want)
	}

	mustStrata(t, root, "create", "--name", "hc-created", "alpine", "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "hc-created") })
	tmpl = "{{.ResolvConfPath}}|{{.HostsPath}}|{{.HostConfig.PidsLimit}}|{{json .HostConfig.Binds}}|{{.HostConfig.Init}}"
	if out, want := mustStrata(t, root, "inspect", "-f", tmpl, "hc-created").Stdout, "||<nil>|null|<nil>\n"; out != want {
		t.Errorf("inspect -f %q of a created container = %q, want %q", tmpl, out, want)
	}
}
