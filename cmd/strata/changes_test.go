package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/runner"
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
		// HEALTHCHECK and STOPSIGNAL, which docker's validCommitCommands take too.
		{changes: []string{`HEALTHCHECK --interval=5s --retries=3 CMD ["curl", "-f", "x"]`}, want: `{"Healthcheck":{"Test":["CMD","curl","-f","x"],"Interval":5000000000,"Retries":3}}`},
		{changes: []string{`healthcheck --timeout=2s --start-period=1m cmd wget -q x || exit 1`}, want: `{"Healthcheck":{"Test":["CMD-SHELL","wget -q x || exit 1"],"Timeout":2000000000,"StartPeriod":60000000000}}`},
		{base: v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "x"}, Retries: 2}}, changes: []string{`HEALTHCHECK NONE`}, want: `{"Healthcheck":{"Test":["NONE"]}}`},
		{base: v1.Config{Env: []string{"S=QUIT"}}, changes: []string{`STOPSIGNAL SIG$S`}, want: `{"Env":["S=QUIT"],"StopSignal":"SIGQUIT"}`},
		{changes: []string{`STOPSIGNAL 9`}, want: `{"StopSignal":"9"}`},
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
		"RUN true", "FROM x", "COPY a b", `SHELL ["/bin/bash", "-c"]`, "CMD", "ENV", "ENV A", `ENV A="x`,
		"HEALTHCHECK", "HEALTHCHECK NONE x", "HEALTHCHECK RUN x", "HEALTHCHECK CMD", "HEALTHCHECK CMD []",
		"HEALTHCHECK --interval=500us CMD x", "HEALTHCHECK --interval=soon CMD x", "HEALTHCHECK --retries=-1 CMD x",
		"HEALTHCHECK --retries=x CMD x", "HEALTHCHECK --nope=1 CMD x", "HEALTHCHECK --interval CMD x",
		"HEALTHCHECK --retries=1 --retries=2 CMD x", "STOPSIGNAL", "STOPSIGNAL NOPE", "STOPSIGNAL 0", "STOPSIGNAL TERM KILL",
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

// TestApplyChangesHealth: HEALTHCHECK's --start-interval, which the image config's v1 type
// has no field for, comes back whole; the last HEALTHCHECK wins. mergeHealth fills what a
// commit's HEALTHCHECK left zero from the container's, as docker's commit merges them.
func TestApplyChangesHealth(t *testing.T) {
	var cfg v1.Config
	h, err := applyChangesHealth(&cfg, []string{"HEALTHCHECK CMD a", "HEALTHCHECK --start-interval=200ms --interval=1s CMD b"})
	if err != nil {
		t.Fatal(err)
	}
	want := runner.HealthConfig{Test: []string{"CMD-SHELL", "b"}, Interval: time.Second, StartInterval: 200 * time.Millisecond}
	if h == nil || !reflect.DeepEqual(*h, want) {
		t.Errorf("applyChangesHealth = %+v, want %+v", h, want)
	}
	if h, err := applyChangesHealth(&cfg, []string{"CMD x"}); err != nil || h != nil {
		t.Errorf("no HEALTHCHECK: %+v, %v; want nil", h, err)
	}
	ctr := &runner.HealthConfig{Test: []string{"CMD", "old"}, Interval: time.Minute, Timeout: time.Second, StartPeriod: 3 * time.Second, StartInterval: time.Millisecond, Retries: 4}
	got := runner.MergeHealthConfig(&runner.HealthConfig{Test: []string{"NONE"}}, ctr)
	if want := (runner.HealthConfig{Test: []string{"NONE"}, Interval: time.Minute, Timeout: time.Second, StartPeriod: 3 * time.Second, StartInterval: time.Millisecond, Retries: 4}); !reflect.DeepEqual(*got, want) {
		t.Errorf("MergeHealthConfig(NONE) = %+v, want %+v", *got, want)
	}
	if got := runner.MergeHealthConfig(&want, nil); !reflect.DeepEqual(*got, want) {
		t.Errorf("MergeHealthConfig(h, nil) = %+v, want h", *got)
	}
}
