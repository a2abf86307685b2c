package integration

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// dockerAuths reads the "auths" of home's ~/.docker/config.json; nil if there is no file.
func dockerAuths(t *testing.T, home string) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, ".docker", "config.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Auths map[string]map[string]string `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config.json = %s: %v", b, err)
	}
	return cfg.Auths
}

// checkLoginCycle runs what both auth tests share, on a registry that wants user:password:
// wrong credentials store nothing, right ones are stored as docker stores them, logout
// removes them and a second logout says there was nothing.
func checkLoginCycle(t *testing.T, f *front, env []string, home, root, user, password string) {
	t.Helper()
	bad := run(t, env, "wrong\n", root, "login", "-u", user, "--password-stdin", f.Host)
	checkFailed(t, bad, "incorrect username or password")
	if auths := dockerAuths(t, home); auths[f.Host] != nil {
		t.Errorf("a failed login stored credentials: %v", auths)
	}
	ok := mustRun(t, env, password+"\n", root, "login", "-u", user, "--password-stdin", f.Host)
	if strings.TrimSpace(ok.Stdout) != "Login Succeeded" {
		t.Errorf("login printed %q, want 'Login Succeeded'", ok.Stdout)
	}
	want := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	if got := dockerAuths(t, home)[f.Host]["auth"]; got != want {
		t.Errorf("config.json auths[%s].auth = %q, want %q", f.Host, got, want)
	}
	if st, err := os.Stat(filepath.Join(home, ".docker", "config.json")); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("config.json holds a password: stat = %v, %v, want mode 0600", st, err)
	}
}

func checkLogout(t *testing.T, f *front, env []string, home, root string) {
	t.Helper()
	out := mustRun(t, env, "", root, "logout", f.Host)
	if strings.TrimSpace(out.Stdout) != "Removing login credentials for "+f.Host {
		t.Errorf("logout printed %q, want 'Removing login credentials for %s'", out.Stdout, f.Host)
	}
	if auths := dockerAuths(t, home); auths[f.Host] != nil {
		t.Errorf("credentials left after logout: %v", auths)
	}
	again := mustRun(t, env, "", root, "logout", f.Host)
	if strings.TrimSpace(again.Stdout) != "Not logged in to "+f.Host {
		t.Errorf("second logout printed %q, want 'Not logged in to %s'", again.Stdout, f.Host)
	}
}

// TestPullBasicAuth runs docker-registry behind htpasswd: a pull without credentials fails
// and says to log in; after `strata login` it works.
func TestPullBasicAuth(t *testing.T) {
	t.Parallel() // each test has its own registry, root and HOME
	testutil.Requires(t, testutil.Root, testutil.Command("htpasswd"))
	const user, password = "alice", "correct horse"
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	line, err := exec.Command("htpasswd", "-Bbn", user, password).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	if err := os.WriteFile(htpasswd, line, 0o600); err != nil {
		t.Fatal(err)
	}
	f := startFront(t, frontAuth{htpasswd: htpasswd}, nil)
	home := t.TempDir()
	root, env := newRoot(t), testEnv(home)
	ref := f.Host + "/library/alpine:" + testimages.AlpineVersion

	checkFailed(t, run(t, env, "", root, "pull", ref), "strata login "+f.Host)
	checkStoreComplete(t, root)

	checkLoginCycle(t, f, env, home, root, user, password)
	indexDigest, _ := alpineDigests(t)
	out := mustRun(t, env, "", root, "pull", ref)
	if got := digestOf(out.Stdout); got != indexDigest {
		t.Errorf("pull after login printed Digest: %s, want %s", got, indexDigest)
	}
	checkStoreComplete(t, root)

	// Pushing needs the credentials too.
	mustRun(t, env, "", root, "tag", ref, f.Host+"/alice/alpine:1")
	mustRun(t, env, "", root, "push", f.Host+"/alice/alpine:1")

	checkLogout(t, f, env, home, root)
	checkFailed(t, run(t, env, "", newRoot(t), "pull", f.Host+"/alice/alpine:1"), "strata login "+f.Host)
}

// TestPullBearerToken runs docker-registry with a token realm (the Docker Hub flow): an
// anonymous pull gets a pull token, once per command; a push needs `strata login`, whose
// credentials the token service checks.
func TestPullBearerToken(t *testing.T) {
	t.Parallel() // each test has its own registry, root and HOME
	testutil.Requires(t, testutil.Root)
	const user, password = "bob", "hunter2"
	ts := newTokenService(t, user, password)
	f := startFront(t, frontAuth{token: ts}, nil)
	home := t.TempDir()
	root, env := newRoot(t), testEnv(home)
	ref := f.Host + "/library/alpine:" + testimages.AlpineVersion
	indexDigest, _ := alpineDigests(t)

	out := mustRun(t, env, "", root, "pull", ref)
	if got := digestOf(out.Stdout); got != indexDigest {
		t.Errorf("anonymous pull printed Digest: %s, want %s", got, indexDigest)
	}
	if n := ts.Issued(); n != 1 {
		t.Errorf("one pull asked for %d tokens, want 1 (one handshake per command)", n)
	}
	checkStoreComplete(t, root)

	target := f.Host + "/bob/alpine:1"
	mustRun(t, env, "", root, "tag", ref, target)
	checkFailed(t, run(t, env, "", root, "push", target), "strata login "+f.Host)

	checkLoginCycle(t, f, env, home, root, user, password)
	pushed := mustRun(t, env, "", root, "push", target)
	if !strings.Contains(pushed.Stdout, "1: digest: sha256:") {
		t.Errorf("push printed %q, want '1: digest: sha256:…'", pushed.Stdout)
	}
	fresh := newRoot(t)
	again := mustRun(t, env, "", fresh, "pull", target)
	if digestOf(again.Stdout) == "" || !strings.Contains(pushed.Stdout, digestOf(again.Stdout)) {
		t.Errorf("pull of the pushed image printed %q; push printed %q: want the same digest", again.Stdout, pushed.Stdout)
	}
	checkStoreComplete(t, fresh)
	checkLogout(t, f, env, home, root)
}
