package model

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestNormalizeImage: the cases tools/supplychain holds to Kyverno's own
// image_normalize.
func TestNormalizeImage(t *testing.T) {
	data, err := os.ReadFile("testdata/kyverno-image-normalize.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		image, want, ok := strings.Cut(line, "\t")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if got, err := NormalizeImage(image); err != nil || got != want {
			t.Errorf("NormalizeImage(%q) = %q, %v, want %q", image, got, err, want)
		}
	}
}

func TestImagePatterns(t *testing.T) {
	const digest = "sha256:9d75f0d7c398df565d7ac04c6819b62d6d8f9560f5eb4672596ecd8f7e96ae91"
	for _, c := range []struct {
		entry       string
		scope       string
		admit, miss []string
	}{
		{"docker.io/library/redis", ScopeRepository, []string{"redis", "redis:7", "library/redis:7", "docker.io/redis:7", "redis@" + digest}, []string{"redis-evil:7", "bitnami/redis:7", "index.docker.io/library/redis:7"}},
		{"redis", ScopeRepository, []string{"redis:7", "docker.io/library/redis:7"}, []string{"ghcr.io/redis:7"}},
		{"redis:7", ScopeReference, []string{"redis:7"}, []string{"redis:8", "redis@" + digest}},
		{"redis:7@" + digest, ScopeReference, []string{"redis@" + digest, "redis:7@" + digest, "docker.io/library/redis@" + digest}, []string{"redis:7"}},
		{"quay.io/prometheus/*", ScopePath, []string{"quay.io/prometheus/node-exporter:v1", "quay.io/prometheus/a/b@" + digest}, []string{"quay.io/prometheus-evil/x:1", "quay.io/prometheus:1", "prometheus/x:1"}},
		{"bitnami/*", ScopePath, []string{"bitnami/redis:7", "docker.io/bitnami/redis:7"}, []string{"redis:7"}},
		{"quay.io/*", ScopeRegistry, []string{"quay.io/x/y:1"}, []string{"ghcr.io/x:1"}},
		{"docker.io/*", ScopeRegistry, []string{"redis:7", "bitnami/redis:7"}, []string{"quay.io/x:1"}},
		{"registry.acme.internal:5000/*", ScopeRegistry, []string{"registry.acme.internal:5000/api:1"}, []string{"registry.acme.internal/api:1"}},
	} {
		patterns, scope, err := ImagePatterns(c.entry)
		if err != nil || scope != c.scope {
			t.Errorf("ImagePatterns(%q) = %v, %q, %v, want scope %q", c.entry, patterns, scope, err, c.scope)
			continue
		}
		for _, img := range c.admit {
			if !Admits(patterns, img) {
				t.Errorf("%q (%v) does not admit %q", c.entry, patterns, img)
			}
		}
		for _, img := range c.miss {
			if Admits(patterns, img) {
				t.Errorf("%q (%v) admits %q", c.entry, patterns, img)
			}
		}
	}
	for _, bad := range []string{"*", "*/*", "quay.io/*/x", "quay.io/prom*", "/*", "Redis", "redis:7:8", "quay.io/x:1/*", "ghcr.io/acme/$(params.x)", "ghcr.io/acme@sha256:/*", "",
		// Official images are docker.io/<name> to Kyverno: library/* would
		// match none written short; an upper-case registry, no pod's image.
		"library/*", "docker.io/library/*", "GHCR.IO/acme/*", "GHCR.IO/acme/api"} {
		if p, _, err := ImagePatterns(bad); err == nil {
			t.Errorf("ImagePatterns(%q) = %v, want an error", bad, p)
		}
	}
	if !slices.Equal(mustPatterns(t, "ghcr.io/acme/api"), []string{"ghcr.io/acme/api:*", "ghcr.io/acme/api@*"}) {
		t.Error("a repository's patterns changed")
	}
}

func mustPatterns(t *testing.T, s string) []string {
	p, _, err := ImagePatterns(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPatternSetAdmits holds PatternSet.Admits to Admits, which tries every
// pattern: patterns of references, repositories, paths and registries
// (ImagePatterns), hand-written wildcards, against images that match one,
// several or none of them.
func TestPatternSetAdmits(t *testing.T) {
	var patterns []string
	for _, img := range []string{
		"ghcr.io/acme/api", "ghcr.io/acme/api:1.2", "ghcr.io/acme/worker@sha256:" + strings.Repeat("a", 64),
		"quay.io/prometheus/*", "nginx", "docker.io/library/redis:7", "registry.internal:5000/team/*",
	} {
		p, _, err := ImagePatterns(img)
		if err != nil {
			t.Fatalf("%s: %v", img, err)
		}
		patterns = append(patterns, p...)
	}
	patterns = append(patterns, "*", "ghcr.io/acme/?pi:*", "ghcr.io/*/api@*", "")
	images := []string{
		"ghcr.io/acme/api:1.2", "ghcr.io/acme/api@sha256:" + strings.Repeat("b", 64), "ghcr.io/acme/apiserver:1",
		"ghcr.io/acme/worker@sha256:" + strings.Repeat("a", 64), "ghcr.io/acme/worker:1", "quay.io/prometheus/node-exporter:v1",
		"quay.io/prometheusx/a:1", "nginx", "nginx:1.27", "docker.io/library/nginx:latest", "redis:7", "redis:6",
		"registry.internal:5000/team/app@sha256:" + strings.Repeat("c", 64), "gcr.io/x/y:1", "Not A Reference", "",
	}
	// Every subset of the patterns that a prefix of the list gives, and
	// each pattern alone.
	var sets [][]string
	for i := 0; i <= len(patterns); i++ {
		sets = append(sets, patterns[:i], patterns[i:])
	}
	for _, p := range patterns {
		sets = append(sets, []string{p})
	}
	matched := 0
	for _, set := range sets {
		s := NewPatternSet(set)
		for _, img := range images {
			want := Admits(set, img)
			if got := s.Admits(img); got != want {
				t.Errorf("patterns %q, image %q: the set says %v, Admits %v", set, img, got, want)
			}
			if want {
				matched++
			}
		}
	}
	if matched == 0 {
		t.Fatal("no image matched: the test compares nothing")
	}
}
