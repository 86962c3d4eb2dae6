package model

import (
	"encoding/hex"
	"slices"
	"strings"
)

// Ref is what Tekton resolves when a pipeline runs, a task (a taskRef
// with a resolver) or a StepAction (a step's ref, by name or with a
// resolver): pipec sees the reference, never the definition.
type Ref struct {
	// Name is a StepAction of the namespace, for a step's ref without a
	// resolver.
	Name     string
	Resolver string
	// Params are the resolver's parameters, sorted by name.
	Params []*Arg
	Path   Path
}

// Param returns the value of the resolver parameter with the given name,
// and whether it is set.
func (r *Ref) Param(name string) (string, bool) {
	for _, a := range r.Params {
		if a.Name == name {
			return a.Value.String, true
		}
	}
	return "", false
}

// Resolver describes one of Tekton's remote resolvers as Tekton v1.10.0
// ships it: the parameters it reads, and which of them a request must set
// given the defaults of its ConfigMap in Tekton's release
// (config/resolvers/*-config.yaml).
type Resolver struct {
	Name string
	// Params are the parameters the resolver reads, sorted.
	Params []string
	// Required must be set (one of each group of alternatives in
	// RequiredOneOf).
	Required []string
	// RequiredOneOf lists sets of parameters of which exactly one must be
	// set, such as git's url or repo.
	RequiredOneOf [][]string
	// Kinds are the values the kind parameter may take, if it has one.
	Kinds []string
}

// Resolvers are Tekton's remote resolvers, by name.
var Resolvers = map[string]*Resolver{
	// pkg/resolution/resolver/bundle: kind defaults to "task" and
	// serviceAccount to "default" in bundleresolver-config.
	"bundles": {Name: "bundles", Params: []string{"bundle", "cache", "kind", "name", "secret", "serviceAccount"},
		Required: []string{"bundle", "name"}, Kinds: []string{"task", "pipeline", "stepaction"}},
	// pkg/resolution/resolver/cluster: kind defaults to "task"; the
	// release's default-namespace is empty, so namespace must be set.
	"cluster": {Name: "cluster", Params: []string{"cache", "kind", "name", "namespace"},
		Required: []string{"name", "namespace"}, Kinds: []string{"task", "pipeline", "stepaction"}},
	// pkg/resolution/resolver/git: revision defaults to "main" and url to
	// the Tekton catalog in git-resolver-config; org goes with repo (the
	// SCM API) and is required with it.
	"git": {Name: "git", Params: []string{"cache", "configKey", "gitToken", "gitTokenKey", "org", "pathInRepo", "repo", "revision", "scmType", "serverURL", "token", "tokenKey", "url"},
		Required: []string{"pathInRepo"}},
	// pkg/resolution/resolver/http.
	"http": {Name: "http", Params: []string{"cache", "digest", "http-password-secret", "http-password-secret-key", "http-username", "url"},
		Required: []string{"url"}},
	// pkg/resolution/resolver/hub: kind defaults to "task" and type to
	// "artifact" (Artifact Hub) in hubresolver-config.
	"hub": {Name: "hub", Params: []string{"cache", "catalog", "kind", "name", "type", "version"},
		Required: []string{"name", "version"}, Kinds: []string{"task", "pipeline", "stepaction"}},
}

// ResolverNames lists the resolvers' names, sorted.
func ResolverNames() []string {
	out := make([]string, 0, len(Resolvers))
	for n := range Resolvers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Pinned reports whether the reference always resolves to the same task,
// as Tekton's resolvers judge it (their IsImmutable) for bundles and git,
// plus the http resolver's digest check; and if not, what would pin it.
// A hub version is a version, or a constraint the resolver matches against
// the newest releases; the cluster resolver reads whatever the namespace
// holds.
func (r *Ref) Pinned() (bool, string) {
	switch r.Resolver {
	case "":
		return false, "a StepAction from a bundle pinned by digest or a git commit SHA, not one of the namespace, which anyone who may edit it there changes"
	case "bundles":
		b, _ := r.Param("bundle")
		// bundle.Resolver.IsImmutable: only sha256 digests count.
		if strings.Contains(b, "@sha256:") {
			return true, ""
		}
		return false, "a bundle pinned by digest: bundle: \"<registry>/<repository>@sha256:<digest>\""
	case "git":
		rev, _ := r.Param("revision")
		// git.Resolver.IsImmutable: a full SHA-1 or SHA-256 commit id.
		if len(rev) == 40 || len(rev) == 64 {
			if _, err := hex.DecodeString(rev); err == nil {
				return true, ""
			}
		}
		return false, "a revision that is a full commit SHA (40 hexadecimal digits), not a branch or tag"
	case "http":
		if d, _ := r.Param("digest"); strings.HasPrefix(d, "sha256:") || strings.HasPrefix(d, "sha512:") {
			return true, ""
		}
		return false, "a digest of the file: digest: \"sha256:<hex>\", which the resolver checks"
	case "hub":
		if v, _ := r.Param("version"); exactVersion(v) {
			return true, ""
		}
		return false, "an exact version such as \"0.9\", not a constraint such as \">= 0.9\""
	}
	if kind, _ := r.Param("kind"); kind == "pipeline" {
		return false, "a pipeline from a bundle pinned by digest or a git commit SHA, or one declared with its tasks in the configuration"
	}
	return false, "a task from a bundle pinned by digest or a git commit SHA, or a task of pipec's own library"
}

// exactVersion reports whether v names one version rather than a
// constraint (the hub resolver treats anything with an operator, a comma
// or a space as a constraint).
func exactVersion(v string) bool {
	if v == "" {
		return false
	}
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}
