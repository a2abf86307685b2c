package runner

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
)

// waitLogged polls the whole log until it holds want.
func waitLogged(t *testing.T, c *Container, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var out, errOut bytes.Buffer
		if err := Logs(context.Background(), c, LogOptions{}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log never held %q; it holds %q", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logs --tail 0 prints none of the past output, as docker's; with -f it prints only what
// comes after.
func TestLogsTailNone(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "sh", "-c", "echo old; while :; do sleep 0.05; echo new; done")
	if err := Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	waitLogged(t, c, "old\n")

	var out, errOut bytes.Buffer
	if err := Logs(context.Background(), c, LogOptions{Tail: TailNone}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if out.Len()+errOut.Len() != 0 {
		t.Errorf("Logs(Tail: TailNone) = %q, %q, want nothing", out.String(), errOut.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var follow testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- Logs(ctx, c, LogOptions{Tail: TailNone, Follow: true}, &follow, &errOut) }()
	for !strings.Contains(follow.String(), "new\nnew\n") && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Logs(Follow, Tail: TailNone) = %v", err)
	}
	got := follow.String()
	if strings.Contains(got, "old") || !strings.Contains(got, "new\nnew\n") {
		t.Errorf("Logs(Follow, Tail: TailNone) = %q, want only new lines", got)
	}
	if err := Stop(context.Background(), c, time.Second); err != nil {
		t.Fatalf("Stop = %v", err)
	}
}
