package registry

import (
	"context"
	"strings"
	"testing"
)

// TestCredentialHelperFailureHidesSecret: a credential helper that fails after printing what
// looks like credentials (its JSON answer, then exit 1), or that repeats the secret it was
// asked to store, does not get them quoted in the error, which ends up in terminals and CI
// logs: it said "docker-credential-x get: exit status 1: {"Username":"alice","Secret":"…"}".
// Its plain words are still quoted: they are how the user learns what went wrong.
func TestCredentialHelperFailureHidesSecret(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	host := serve(t, basicAuth("alice", "hunter2"))
	for _, tt := range []struct{ name, body, want string }{
		{"answer then fail", `cat >/dev/null; echo '{"ServerURL":"x","Username":"alice","Secret":"hunter2"}'; exit 1`, "exit status 1: (55 bytes, not shown: they may hold the secret)"},
		{"secret on stderr", `cat >/dev/null; echo 'no keychain'; echo '{"secret": "hunter2"}' >&2; exit 2`, "exit status 2: no keychain (21 bytes, not shown: they may hold the secret)"},
		{"plain words", `cat >/dev/null; echo 'org.freedesktop.secrets was not provided' >&2; exit 3`, "exit status 3: org.freedesktop.secrets was not provided"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-")
			fakeHelper(t, name, tt.body)
			dockerConfigDir(t, `{"credsStore":"`+name+`"}`)
			opts := testOptions()
			opts.Keychain = nil
			err := Push(context.Background(), mustRef(t, host+"/app:1"), randomImage(t), opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Push = %v, want an error saying %q, without the secret", err, tt.want)
			}
		})
	}
	// A store that fails repeating its input, the password in it, in its own words.
	fakeHelper(t, "echoes", `cat; echo; echo ' could not be stored' >&2; exit 4`)
	dockerConfigDir(t, `{"credsStore":"echoes"}`)
	_, err := runCredHelper(context.Background(), "echoes", "store", []byte(`{"ServerURL":"h","Username":"alice","Secret":"hunter2"}`))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "not shown") {
		t.Errorf("store = %v, want an error without the secret", err)
	}
	_, err = runCredHelper(context.Background(), "echoes", "store", []byte(`{"Secret":"hunter2"}x`))
	t.Logf("store of a non-JSON input = %v", err)
	fakeHelper(t, "says", `cat >/dev/null; echo 'password hunter2 rejected by the vault'; exit 4`)
	_, err = runCredHelper(context.Background(), "says", "store", []byte(`{"ServerURL":"h","Username":"alice","Secret":"hunter2"}`))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "password *** rejected by the vault") {
		t.Errorf("store = %v, want the helper's words with the secret masked", err)
	}
}
