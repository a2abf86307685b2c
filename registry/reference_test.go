package registry

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dgA  = "sha256:" + hexA
)

func TestParseReference(t *testing.T) {
	tests := []struct {
		in                              string
		str, registry, repo, tag, digst string
		familiar                        string
	}{
		{"alpine", "docker.io/library/alpine:latest", "docker.io", "library/alpine", "latest", "", "alpine:latest"},
		{"alpine:3.19", "docker.io/library/alpine:3.19", "docker.io", "library/alpine", "3.19", "", "alpine:3.19"},
		{"library/alpine", "docker.io/library/alpine:latest", "docker.io", "library/alpine", "latest", "", "alpine:latest"},
		{"docker.io/alpine", "docker.io/library/alpine:latest", "docker.io", "library/alpine", "latest", "", "alpine:latest"},
		{"index.docker.io/library/alpine:edge", "docker.io/library/alpine:edge", "docker.io", "library/alpine", "edge", "", "alpine:edge"},
		{"user/app", "docker.io/user/app:latest", "docker.io", "user/app", "latest", "", "user/app:latest"},
		{"user/app/sub:v1.2_3-rc", "docker.io/user/app/sub:v1.2_3-rc", "docker.io", "user/app/sub", "v1.2_3-rc", "", "user/app/sub:v1.2_3-rc"},
		{"localhost/x", "localhost/x:latest", "localhost", "x", "latest", "", "localhost/x:latest"},
		{"localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000", "x", "1", "", "localhost:5000/x:1"},
		{"127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest", "127.0.0.1:5000", "a/b", "latest", "", "127.0.0.1:5000/a/b:latest"},
		{"[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000", "x", "y", "", "[::1]:5000/x:y"},
		{"ghcr.io/org/img:tag", "ghcr.io/org/img:tag", "ghcr.io", "org/img", "tag", "", "ghcr.io/org/img:tag"},
		{"Registry.Example.COM/x", "Registry.Example.COM/x:latest", "Registry.Example.COM", "x", "latest", "", "Registry.Example.COM/x:latest"},
		{"UPPER/x", "UPPER/x:latest", "UPPER", "x", "latest", "", "UPPER/x:latest"},
		{"a.b-c/d__e.f-g--h", "a.b-c/d__e.f-g--h:latest", "a.b-c", "d__e.f-g--h", "latest", "", "a.b-c/d__e.f-g--h:latest"},
		{"alpine@" + dgA, "docker.io/library/alpine@" + dgA, "docker.io", "library/alpine", "", dgA, "alpine@" + dgA},
		{"alpine:3@" + dgA, "docker.io/library/alpine:3@" + dgA, "docker.io", "library/alpine", "3", dgA, "alpine:3@" + dgA},
		{"localhost:5000/x@" + dgA, "localhost:5000/x@" + dgA, "localhost:5000", "x", "", dgA, "localhost:5000/x@" + dgA},
		{"localhost:5000", "docker.io/library/localhost:5000", "docker.io", "library/localhost", "5000", "", "localhost:5000"},
		{"x:" + strings.Repeat("t", 128), "docker.io/library/x:" + strings.Repeat("t", 128), "docker.io", "library/x", strings.Repeat("t", 128), "", "x:" + strings.Repeat("t", 128)},
		{"sha256/" + hexA, "docker.io/sha256/" + hexA + ":latest", "docker.io", "sha256/" + hexA, "latest", "", "sha256/" + hexA + ":latest"},
		// The 255 characters distribution allows are the path's, its domain not counted
		// (RepositoryNameTotalLengthMax): docker takes these, "library/" and all.
		{"host.com/" + strings.Repeat("a", 255), "host.com/" + strings.Repeat("a", 255) + ":latest", "host.com", strings.Repeat("a", 255), "latest", "", "host.com/" + strings.Repeat("a", 255) + ":latest"},
		{strings.Repeat("a", 247), "docker.io/library/" + strings.Repeat("a", 247) + ":latest", "docker.io", "library/" + strings.Repeat("a", 247), "latest", "", strings.Repeat("a", 247) + ":latest"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseReference(tt.in)
			if err != nil {
				t.Fatalf("ParseReference(%q) = %v", tt.in, err)
			}
			got := []string{r.String(), r.Registry(), r.Repository(), r.Tag(), r.Digest(), r.Familiar()}
			want := []string{tt.str, tt.registry, tt.repo, tt.tag, tt.digst, tt.familiar}
			names := []string{"String", "Registry", "Repository", "Tag", "Digest", "Familiar"}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("ParseReference(%q).%s() = %q, want %q", tt.in, names[i], got[i], want[i])
				}
			}
			// The printed form must parse back to itself: cache stores it in index.json.
			again, err := ParseReference(r.String())
			if err != nil || again != r {
				t.Errorf("ParseReference(%q) = %+v, %v; want %+v", r.String(), again, err, r)
			}
		})
	}
}

func TestParseReferenceInvalid(t *testing.T) {
	tests := []struct {
		in      string
		message string // a substring the error must contain
	}{
		{"", "empty reference"},
		{"Alpine", "repository name (library/Alpine) must be lowercase"},
		{"user/App:1", "repository name (user/App) must be lowercase"},
		{"localhost:5000/X", "repository name (X) must be lowercase"},
		{"alpine:", "invalid tag"},
		{"alpine:-x", "invalid tag"},
		{"alpine:" + strings.Repeat("t", 129), "invalid tag"},
		{"alpine:a b", "invalid tag"},
		{"alpine@", "invalid checksum digest format"},
		{"alpine@sha256:xyz", "invalid checksum digest format"},
		{"alpine@sha256:abc", "invalid checksum digest format"},
		{"alpine@md5:" + hexA, "unsupported digest algorithm"},
		{"alpine@sha256:" + hexA + "aa", "invalid checksum digest length"},
		{"alpine@sha256:" + strings.ToUpper(hexA), "invalid checksum digest format"},
		{"alpine@sha256:" + hexA + "@sha256:" + hexA, "invalid checksum digest format"},
		{"-alpine", "invalid reference format"},
		{"alpine-", "invalid reference format"},
		{"a//b", "invalid reference format"},
		{"a/b/", "invalid reference format"},
		{"/a", "invalid reference format"},
		{"a..b/c", "invalid registry"},
		{"-host.com/c", "invalid registry"},
		{"host.com:port/c", "invalid reference format"},
		{"a___b", "invalid reference format"},
		{"a b", "invalid reference format"},
		{"café", "invalid reference format"},
		{hexA, "cannot specify 64-byte hexadecimal strings"},
		{"host.com/" + strings.Repeat("a", 256), "must not be more than 255 characters"},
		{strings.Repeat("a", 248), "must not be more than 255 characters"},
		{"docker.io/" + strings.Repeat("a/", 127) + "ab", "must not be more than 255 characters"},
		{"host.com/a:b:c", "invalid reference format"},
		// A RepoTag of a hostile archive: refused, and the message stays short.
		{"host.com/" + strings.Repeat("a/", 1<<19) + "a:1", "more than the 1024 a reference can have"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseReference(tt.in)
			if err == nil {
				t.Fatalf("ParseReference(%q) = %s, want an error", tt.in, r)
			}
			if !errors.Is(err, ErrInvalidReference) {
				t.Errorf("ParseReference(%q) = %v, want it to wrap ErrInvalidReference", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.message) || len(err.Error()) > 2048 {
				t.Errorf("ParseReference(%.100q) = %.300q, want it to say %q in a short line", tt.in, err, tt.message)
			}
		})
	}
}

func TestReferenceWith(t *testing.T) {
	r := mustRef(t, "alpine:3")
	d, err := r.WithDigest(dgA)
	if err != nil || d.String() != "docker.io/library/alpine:3@"+dgA {
		t.Errorf("WithDigest = %s, %v", d, err)
	}
	tg, err := d.WithTag("edge")
	if err != nil || tg.String() != "docker.io/library/alpine:edge" {
		t.Errorf("WithTag = %s, %v", tg, err)
	}
	if _, err := r.WithTag("bad tag"); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("WithTag(bad) = %v, want ErrInvalidReference", err)
	}
	if _, err := r.WithDigest("sha256:1"); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("WithDigest(bad) = %v, want ErrInvalidReference", err)
	}
}

func TestReferenceJSON(t *testing.T) {
	type state struct {
		Ref Reference `json:"ref"`
	}
	in := state{mustRef(t, "alpine:3@"+dgA)}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"ref":"docker.io/library/alpine:3@` + dgA + `"}`; string(data) != want {
		t.Errorf("json.Marshal = %s, want %s", data, want)
	}
	var out state
	if err := json.Unmarshal(data, &out); err != nil || out != in {
		t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", data, out, err, in)
	}
	if err := json.Unmarshal([]byte(`{"ref":"Bad"}`), &out); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("json.Unmarshal(Bad) = %v, want ErrInvalidReference", err)
	}
	if !(Reference{}).IsZero() || in.Ref.IsZero() {
		t.Error("IsZero is wrong")
	}
}
