package main

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestApplyChanges reads -c values as docker's commit and import do: JSON and shell forms,
// ENV and LABEL pairs with quotes or the old one-pair form, EXPOSE ranges, WORKDIR relative
// to the last one, an ENTRYPOINT that drops an inherited CMD but not one set before it.
func TestApplyChanges(t *testing.T) {
	for _, tc := range []struct {
		base    v1.Config
		changes []string
		want    string
	}{
		{changes: []string{`CMD ["echo","hi"]`}, want: `{"Cmd":["echo","hi"]}`},
		{changes: []string{`cmd echo $HOME`}, want: `{"Cmd":["/bin/sh","-c","echo $HOME"]}`},
		{changes: []string{`CMD [not json`}, want: `{"Cmd":["/bin/sh","-c","[not json"]}`},
		{base: v1.Config{Cmd: []string{"sh"}}, changes: []string{`ENTRYPOINT ["top"]`}, want: `{"Entrypoint":["top"]}`},
		{base: v1.Config{Cmd: []string{"sh"}}, changes: []string{`CMD ["-b"]`, `ENTRYPOINT ["top"]`}, want: `{"Cmd":["-b"],"Entrypoint":["top"]}`},
		{base: v1.Config{Env: []string{"A=0", "B=1"}}, changes: []string{`ENV A=1 C="two words" D=a\ b`}, want: `{"Env":["A=1","B=1","C=two words","D=a b"]}`},
		{changes: []string{`ENV NAME value with spaces`}, want: `{"Env":["NAME=value with spaces"]}`},
		{changes: []string{`LABEL a=b "c d"='e f'`}, want: `{"Labels":{"a":"b","c d":"e f"}}`},
		{changes: []string{`EXPOSE 80 53/UDP 8000-8001`}, want: `{"ExposedPorts":{"53/udp":{},"80/tcp":{},"8000/tcp":{},"8001/tcp":{}}}`},
		{base: v1.Config{WorkingDir: "/srv"}, changes: []string{`WORKDIR a`, `WORKDIR ../b`}, want: `{"WorkingDir":"/srv/b"}`},
		{changes: []string{`USER 1000:1000`}, want: `{"User":"1000:1000"}`},
		{changes: []string{`VOLUME ["/a", "/b"]`, `VOLUME /c /d`}, want: `{"Volumes":{"/a":{},"/b":{},"/c":{},"/d":{}}}`},
		{changes: []string{`ONBUILD run make`}, want: `{"OnBuild":["RUN make"]}`},
		{changes: []string{"USER a\nWORKDIR /w"}, want: `{"User":"a","WorkingDir":"/w"}`},
		{base: v1.Config{Env: []string{"PATH=/bin", "U=app"}}, changes: []string{`ENV PATH=$PATH:/opt/bin X="${U}-x" Y='$U' Z=\$U`, `USER $U`, `WORKDIR /home/${U}`, `LABEL v=${NOPE:-dflt} w=${U:+set}`},
			want: `{"Env":["PATH=/bin:/opt/bin","U=app","X=app-x","Y=$U","Z=$U"],"Labels":{"v":"dflt","w":"set"},"User":"app","WorkingDir":"/home/app"}`},
		{base: v1.Config{Env: []string{"A=1"}}, changes: []string{`ENV B $A and more`, `CMD echo $A`}, want: `{"Cmd":["/bin/sh","-c","echo $A"],"Env":["A=1","B=1 and more"]}`},
	} {
		cfg := tc.base
		if err := applyChanges(&cfg, tc.changes); err != nil {
			t.Errorf("%q: %v", tc.changes, err)
			continue
		}
		b, _ := json.Marshal(cfg)
		if string(b) != tc.want {
			t.Errorf("%q: %s, want %s", tc.changes, b, tc.want)
		}
	}
}

func TestApplyChangesRefused(t *testing.T) {
	for _, ch := range []string{
		"RUN true", "FROM x", "COPY a b", "HEALTHCHECK NONE", "CMD", "ENV", "ENV A", `ENV A="x`,
		"ENV =x", "LABEL a", "EXPOSE 0", "EXPOSE 70000", "EXPOSE 80/icmp", "EXPOSE 90-80",
		"USER a b", "WORKDIR a b", `VOLUME [""]`, "ONBUILD ONBUILD RUN x", "ONBUILD FROM x",
		"ENV A=${B", "ENV A=${B:?x}", "ENV A=${}",
		strings.Repeat("x", maxChange+1),
	} {
		var cfg v1.Config
		err := applyChanges(&cfg, []string{ch})
		if err == nil {
			t.Errorf("%.40q: accepted", ch)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "invalid --change") {
			t.Errorf("%.40q: error %q", ch, msg)
		}
	}
}
