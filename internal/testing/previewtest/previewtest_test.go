package previewtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCopiesAreUpstream: the rendering code in appsetutils is Argo CD
// v3.3.19's own, byte for byte, as the module cache (checked against
// go.sum) holds it.
func TestCopiesAreUpstream(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/argoproj/argo-cd/v3").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "applicationset", "utils")
	for _, f := range []string{"utils.go", "template_functions.go"} {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("appsetutils", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("appsetutils/%s is not Argo CD's %s/%s: copy it again", f, dir, f)
		}
	}
}
