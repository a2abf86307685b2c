package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/runner"
)

// TestTemplateRunsBounded: a --format template that loops or recurses without printing
// (so maxFormatOutput never stops it) ends with an error once it has run maxFormatTime, for
// every command's renderer. `{{range 999999999999}}{{end}}` spun for hours, and as ps,
// images and inspect do not watch their context, `timeout 20 strata ps --format …` did not
// stop it either.
func TestTemplateRunsBounded(t *testing.T) {
	defer func(d time.Duration) { maxFormatTime = d }(maxFormatTime)
	maxFormatTime = 50 * time.Millisecond
	endless := []string{
		"{{range 999999999999}}{{end}}",
		"{{range 999999}}{{range 999999}}{{end}}{{end}}",
		`{{range $i, $c := split .ID ""}}{{range 999999999999}}{{continue}}{{end}}{{end}}`,
		"{{if true}}{{with .ID}}{{range 999999999999}}{{else}}x{{end}}{{end}}{{end}}",
		// 2^60 calls, none of them a range.
		`{{define "x"}}{{if lt (len .) 60}}{{template "x" (printf "%sa" .)}}{{template "x" (printf "%sb" .)}}{{end}}{{end}}{{template "x" ""}}`,
		"table {{.ID}}{{range 999999999999}}{{end}}",
	}
	renderers := map[string]func(format string) error{
		"ps": func(format string) error {
			_, _, err := renderTemplate(format, []psRow{{ID: "abc"}})
			return err
		},
		"images": func(format string) error {
			return printTemplate(&bytes.Buffer{}, format, []imageRow{{ID: "sha256:abc"}})
		},
		"inspect": func(format string) error {
			// An image's inspect names its ID Id, as docker's JSON does.
			format = strings.ReplaceAll(format, ".ID", ".Id")
			return printInspectTemplate(&bytes.Buffer{}, format, []any{imageInspect{Id: "sha256:abc"}})
		},
	}
	for name, render := range renderers {
		for _, format := range endless {
			if name == "inspect" && strings.HasPrefix(format, "table") {
				continue
			}
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- render(format) }()
			select {
			case err := <-done:
				if err == nil || err.Error() != "--format: the template ran for more than 50ms" {
					t.Errorf("%s --format %q = %v, want the time limit's error", name, format, err)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("%s --format %q took %v, want about %v", name, format, d, maxFormatTime)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s --format %q still runs after 10s", name, format)
			}
		}
	}
	// What a template does in its time is kept: ranges, recursion and break as before.
	out, _, err := renderTemplate(`{{define "n"}}{{if lt (len .) 3}}{{template "n" (printf "%s." .)}}{{end}}{{.}}{{end}}{{range $i, $c := split .ID ""}}{{if eq $i 2}}{{break}}{{end}}{{$c}}{{end}}{{range 2}}-{{end}}{{template "n" ""}}`, []psRow{{ID: "abc"}})
	if want := "ab--......\n"; err != nil || string(out) != want {
		t.Errorf("renderTemplate = %q, %v, want %q", out, err, want)
	}
}

// TestWorkdirCleaned: the working directory, -w's or the image's, is cleaned as docker's
// SetupWorkingDirectory cleans it: "/a/../b" is /b. The init took "/a/../.." as given,
// made no /a, and failed to chdir through it ("changing to working directory /a/../..: no
// such file or directory") where docker runs in /.
func TestWorkdirCleaned(t *testing.T) {
	for _, tt := range []struct{ flag, image, want string }{
		{"/a/../..", "", "/"},
		{"/a/./b//c/", "", "/a/b/c"},
		{"", "/srv/../app/", "/app"},
		{"/x/..", "/srv", "/"},
		{"", "", ""},
	} {
		o := runOptions{workdir: tt.flag}
		cfg := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"true"}, WorkingDir: tt.image}}
		s, err := o.spec(cfg, nil)
		if err != nil || s.Cwd != tt.want {
			t.Errorf("spec(-w %q, WORKDIR %q).Cwd = %q, %v; want %q", tt.flag, tt.image, s.Cwd, err, tt.want)
		}
	}
}

// TestMemorySwapErrors: a bad --memory-swap is named as itself; it was told as "invalid
// memory value", sending the user to a -m they may not have given.
func TestMemorySwapErrors(t *testing.T) {
	for _, tt := range []struct{ memory, swap, want string }{
		{"6m", "x", `invalid memory-swap value "x"`},
		{"6m", "-2", `invalid memory-swap value "-2"`},
		{"6m", "1e3", `invalid memory-swap value "1e3"`},
		{"x", "1g", `invalid memory value "x"`},
	} {
		o := runOptions{memory: tt.memory, memorySwap: tt.swap}
		if _, err := o.resources(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("resources(-m %q --memory-swap %q) = %v, want %s", tt.memory, tt.swap, err, tt.want)
		}
	}
	for _, swap := range []string{"-1", "12m", "0"} {
		o := runOptions{memory: "6m", memorySwap: swap}
		if _, err := o.resources(); err != nil {
			t.Errorf("resources(-m 6m --memory-swap %q) = %v, want nil", swap, err)
		}
	}
}

// TestSecurityOptForms: --security-opt takes what docker takes that strata does: the
// older "key:value" form, no-new-privileges=BOOL, seccomp=builtin (the default profile), and
// label=disable and apparmor=unconfined, which ask for what strata does anyway (no SELinux
// label, no AppArmor profile); scripts written for docker and podman pass them. An option
// strata cannot honour stays refused, no-new-privileges=false included but with --privileged.
func TestSecurityOptForms(t *testing.T) {
	cfg := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"true"}}}
	for _, tt := range []struct {
		opts       []string
		privileged bool
		nnp        bool
		seccomp    string
	}{
		{[]string{"no-new-privileges"}, false, true, runner.SeccompDefault},
		{[]string{"no-new-privileges=true"}, false, true, runner.SeccompDefault},
		{[]string{"no-new-privileges:true"}, false, true, runner.SeccompDefault},
		{[]string{"no-new-privileges", "no-new-privileges=false"}, true, false, runner.SeccompDefault},
		{[]string{"seccomp:unconfined"}, false, false, runner.SeccompUnconfined},
		{[]string{"seccomp=unconfined", "seccomp=builtin"}, false, false, runner.SeccompDefault},
		{[]string{"label=disable", "label:disable", "apparmor=unconfined"}, false, false, runner.SeccompDefault},
		// docker's writable-cgroups asking for what strata does: read-only, read-write when privileged.
		{[]string{"writable-cgroups=false"}, false, false, runner.SeccompDefault},
		{[]string{"writable-cgroups=true"}, true, false, runner.SeccompDefault},
	} {
		o := runOptions{securityOpt: tt.opts, privileged: tt.privileged}
		s, err := o.spec(cfg, nil)
		if err != nil || s.NoNewPrivileges != tt.nnp || s.Seccomp != tt.seccomp {
			t.Errorf("spec(--security-opt %q) = no-new-privileges %v, seccomp %q, %v; want %v, %q", tt.opts, s.NoNewPrivileges, s.Seccomp, err, tt.nnp, tt.seccomp)
		}
	}
	for _, tt := range []struct{ opt, want string }{
		{"bogus", `invalid --security-opt "bogus": want KEY=VALUE`},
		{"seccomp=", `invalid --security-opt "seccomp=": want KEY=VALUE`},
		{"no-new-privileges=maybe", `invalid --security-opt "no-new-privileges=maybe": want true or false`},
		// Docker's default, which strata's init does not keep: it sets no_new_privs.
		{"no-new-privileges=false", `--security-opt "no-new-privileges=false": not supported: strata sets no_new_privs in every container that is not --privileged`},
		{"label=type:svirt_apache_t", `--security-opt "label=type:svirt_apache_t": not supported`},
		{"apparmor=docker-default", `--security-opt "apparmor=docker-default": not supported`},
		{"systempaths=unconfined", `--security-opt "systempaths=unconfined": not supported`},
		{"writable-cgroups=true", `--security-opt "writable-cgroups=true": not supported: strata mounts /sys/fs/cgroup read-only in a container that is not --privileged, read-write in one that is`},
		{"writable-cgroups=maybe", `invalid --security-opt "writable-cgroups=maybe": want true or false`},
	} {
		o := runOptions{securityOpt: []string{tt.opt}}
		if _, err := o.spec(cfg, nil); err == nil || err.Error() != tt.want {
			t.Errorf("spec(--security-opt %q) = %v, want %s", tt.opt, err, tt.want)
		}
	}
}

// TestServeEmptyAddr: serve --addr "" is refused. net.Listen took it as every interface on a
// random port, so an unset variable in `--addr "$ADDR"` served the whole store to the
// network; ":PORT" still asks for that in so many words.
func TestServeEmptyAddr(t *testing.T) {
	for _, addr := range []string{"", " "} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		cmd := newRootCmd(&globals{})
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{"--root", t.TempDir(), "serve", "--addr", addr})
		err := cmd.ExecuteContext(ctx)
		cancel()
		if want := `invalid --addr "` + addr + `": want HOST:PORT, or :PORT for every interface`; err == nil || err.Error() != want {
			t.Errorf("serve --addr %q = %v (printed %q), want %s", addr, err, out.String(), want)
		}
	}
}

// TestTemplateMemoryBounded: a --format template cannot make strings without end: nested
// functions in one action ({{json (json (json …))}} grows 2.5 times a level), a template
// recursing on printf's result, or a recursion keeping a 1 MB string alive at each level.
// Each died as "fatal error: out of memory" past any recover, or took the host's memory.
func TestTemplateMemoryBounded(t *testing.T) {
	defer func(value, made int) { maxFormatValue, maxFormatMade = value, made }(maxFormatValue, maxFormatMade)
	maxFormatValue, maxFormatMade = 8<<20, 64<<20
	nested := `"` + strings.Repeat("(json ", 40) + `.Names` + strings.Repeat(")", 40)
	for _, tt := range []struct{ format, want string }{
		{"{{" + nested[1:] + "}}", "--format: json would make more than 8 MiB"},
		{`{{define "x"}}{{template "x" (printf "%s%s" . .)}}{{end}}{{template "x" .Names}}`, "--format: printf would make more than 8 MiB"},
		{`{{define "x"}}{{template "x" (html (print . "&"))}}{{end}}{{template "x" .Names}}`, "--format: the template made more than 64 MiB of strings"},
		{`{{define "x"}}{{template "x" (printf "%s." .)}}{{end}}{{template "x" (printf "%0999999d" 1)}}`, "--format: the template made more than 64 MiB of strings"},
		{`{{range $i := 1000}}{{$x := upper (printf "%0999999d" $i)}}{{end}}`, "--format: the template made more than 64 MiB of strings"},
		{`{{join (split (printf "%099999d" 1) "") (printf "%0999999d" 1)}}`, "--format: join would make more than 8 MiB"},
	} {
		var out bytes.Buffer
		err := printTemplate(&out, tt.format, []psRow{{Names: `"`}})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("printTemplate(%.60q) = %.200v, want %s", tt.format, err, tt.want)
		}
	}
	// The functions keep their results: docker's templates print as before.
	var out bytes.Buffer
	err := printTemplate(&out, `{{json .Names}} {{printf "%3s|%-3s|" "a" "b"}} {{print 1 "x"}} {{html "<&>"}} {{js "'"}} {{urlquery "a b"}} {{join (split .ID "") "-"}} {{upper .Names}} {{title "ab cd"}} {{truncate "héllo" 2}} {{pad "x" 1 1}}|{{println "end"}}`, []psRow{{ID: "abc", Names: "wé"}})
	if want := `"wé"   a|b  | 1x &lt;&amp;&gt; \' a+b a-b-c WÉ Ab Cd hé  x |end` + "\n\n"; err != nil || out.String() != want {
		t.Errorf("printTemplate = %q, %v, want %q", out.String(), err, want)
	}
}

// TestFlagCSVErrors: a comma-list flag (--ns) whose quotes do not parse is told without
// encoding/csv's "parse error on line 1, column 11", which means nothing for one argument.
func TestFlagCSVErrors(t *testing.T) {
	for _, args := range [][]string{
		{"create", "--ns", `time=new,"`, "img"},
		{"enter", "--ns", `"`, "c", "--", "true"},
	} {
		_, err := strata(t, t.TempDir(), nil, args...)
		want := `invalid argument ` + quoteValue(args[2]) + ` for "--ns" flag: extraneous or missing " in quoted-field`
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "line 1") {
			t.Errorf("strata %q = %v, want %s", args, err, want)
		}
	}
}
