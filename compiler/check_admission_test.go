package compiler_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipec/pipec/compiler"
)

// TestAdmissionRefusesUngatedFromPipeline: an app whose image comes from a
// pipeline (image.fromPipeline) whose gates do not admit into an
// environment that has an admission policy is refused at build time, at
// its fromPipeline, as the cluster would refuse its pods; the shop as it
// is builds.
func TestAdmissionRefusesUngatedFromPipeline(t *testing.T) {
	for name, edit := range map[string]func(string) string{
		"as is": func(s string) string { return s },
		"cart not admitted into dev": func(s string) string {
			return strings.Replace(s, `admit: ["staging", "prod"]`, `admit: [if svc != "cart" {"dev"}, "staging", "prod"]`, 1)
		},
	} {
		dir := t.TempDir()
		files, _ := filepath.Glob("../examples/shop/*.cue")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			if filepath.Base(f) == "pipelines.cue" {
				if text = edit(text); name != "as is" && text == string(b) {
					t.Fatalf("%s: the edit no longer applies to pipelines.cue", name)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		res, err := compiler.Build(context.Background(), compiler.Options{Dir: dir})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, d := range res.Diagnostics {
			if d.ID == "pipec/config/admission-refused" {
				got = append(got, string(d.Path))
			}
		}
		want := ""
		if name != "as is" {
			want = "apps.cart.image.fromPipeline"
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: admission-refused at %v, want %q", name, got, want)
		}
	}
}
