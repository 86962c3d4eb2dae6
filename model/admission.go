package model

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
)

// EnvironmentAdmission is environments.<env>.admission: the third-party
// images an environment that a sign gate admits into runs unsigned.
type EnvironmentAdmission struct {
	Allow []AllowEntry
	Path  Path
}

// AllowEntry is one entry of admission.allow: an image reference or a
// path pattern, as written.
type AllowEntry struct {
	Image string
	Path  Path
}

// Kinds of the images an admission policy admits without a signature.
const (
	// UnsignedAllowed: an entry of the environment's admission.allow.
	UnsignedAllowed = "allow"
	// UnsignedPlaced: an image pipec places in the environment's
	// namespace itself (PlacedImages).
	UnsignedPlaced = "placed"
)

// UnsignedImage is an image an environment's admission policy admits
// without a signature: an allow-list entry or an image pipec places.
type UnsignedImage struct {
	Image string
	Kind  string // UnsignedAllowed, UnsignedPlaced
	// What says what it is, for messages: `allow-list entry`, `test
	// "smoke" of app "shop"`.
	What string
	Path Path
}

// PlacedImages returns the images pipec itself runs in an environment's
// namespace from the configuration, in plan order: the test Jobs of the
// apps' releases (AnalysisTemplates with the Job provider, which Argo
// Rollouts runs as Jobs in the namespace). Every other object pipec emits
// for an environment runs no container: namespaces, quotas, network
// policies, RBAC, Applications, Rollouts (whose pods run the app's own
// image), objectives' AnalysisTemplates (queries run by the Rollouts
// controller), monitoring and scaling objects. A new target that runs a
// container in an environment's namespace adds it here, and the admission
// policies admit it.
func (p *Plan) PlacedImages(env string) []UnsignedImage {
	var out []UnsignedImage
	for _, a := range p.Apps {
		for _, dep := range a.Deployments {
			if dep.Environment != env {
				continue
			}
			for _, t := range dep.RunTests() {
				out = append(out, UnsignedImage{
					Image: t.Image, Kind: UnsignedPlaced,
					What: fmt.Sprintf("test %q of app %q", t.Name, a.Name), Path: t.Path.Field("image"),
				})
			}
		}
	}
	return out
}

// Unsigned returns what an environment's admission policy admits without
// a signature: its allow-list, then the images pipec places there.
func (p *Plan) Unsigned(env *Environment) []UnsignedImage {
	var out []UnsignedImage
	if env.Admission != nil {
		for _, e := range env.Admission.Allow {
			out = append(out, UnsignedImage{Image: e.Image, Kind: UnsignedAllowed, What: "allow-list entry", Path: e.Path})
		}
	}
	return append(out, p.PlacedImages(env.Name)...)
}

// Scopes of an image pattern (ImagePatterns), narrowest first.
const (
	// ScopeReference: one tag or one digest of a repository.
	ScopeReference = "reference"
	// ScopeRepository: every tag and digest of a repository.
	ScopeRepository = "repository"
	// ScopePath: every repository under a path of a registry
	// ("quay.io/prometheus/*").
	ScopePath = "path"
	// ScopeRegistry: every repository of a registry ("quay.io/*").
	ScopeRegistry = "registry"
)

// ImagePatterns returns the wildcard patterns (Kyverno's: * and ?) that
// match the images s names, as Kyverno renders a pod's image before
// matching it (its GetImageInfo, which the image_normalize JMESPath
// function returns too: the registry, docker.io when none is written,
// then the path as written without adding library/, then ":tag", or
// "@digest" when there is a digest, the tag dropped), and the scope of
// s. s is a repository ("ghcr.io/acme/api", "redis"), a reference with a
// tag or a digest, or a path pattern ending in "/*" ("quay.io/prometheus/*",
// "quay.io/*"). A Docker Hub official image is written with and without
// library/, so both forms are matched. Any other wildcard, and "*"
// alone, are errors: they would admit images of any repository.
func ImagePatterns(s string) ([]string, string, error) {
	if prefix, ok := strings.CutSuffix(s, "/*"); ok {
		return pathPatterns(prefix)
	}
	if strings.ContainsAny(s, "*?") {
		return nil, "", errors.New(`a wildcard is allowed only as a whole last path component ("quay.io/prometheus/*")`)
	}
	if strings.Contains(s, "$(") {
		return nil, "", errors.New("a parameter is not an image")
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, "", err
	}
	if d := reference.Domain(named); d != strings.ToLower(d) {
		return nil, "", fmt.Errorf("registry %q is written in upper case, which Kubernetes and Kyverno keep as written: no pod's image would match; write %q", d, strings.ToLower(d))
	}
	repos := []string{named.Name()}
	if reference.Domain(named) == "docker.io" {
		if short, ok := strings.CutPrefix(reference.Path(named), "library/"); ok {
			repos = append(repos, "docker.io/"+short)
		}
	}
	var out []string
	scope := ScopeReference
	for _, r := range repos {
		switch ref := named.(type) {
		case reference.Digested:
			out = append(out, r+"@"+ref.Digest().String())
		case reference.Tagged:
			out = append(out, r+":"+ref.Tag())
		default:
			scope = ScopeRepository
			out = append(out, r+":*", r+"@*")
		}
	}
	return out, scope, nil
}

// pathPatterns are the patterns of "<prefix>/*": every repository under
// prefix, a registry ("quay.io") or a path in one ("quay.io/prometheus",
// "bitnami" on Docker Hub).
func pathPatterns(prefix string) ([]string, string, error) {
	if prefix == "" || strings.ContainsAny(prefix, "*?@") || strings.Contains(prefix, "$(") {
		return nil, "", errors.New(`the part before "/*" must be a registry or a repository path, such as "quay.io/prometheus"`)
	}
	const probe = "x"
	named, err := reference.ParseNormalizedNamed(prefix + "/" + probe)
	if err != nil {
		return nil, "", fmt.Errorf("%q is not a registry or repository path: %v", prefix, err)
	}
	if !reference.IsNameOnly(named) {
		return nil, "", fmt.Errorf("%q has a tag or digest: a pattern names repositories", prefix)
	}
	domain := reference.Domain(named)
	if domain != strings.ToLower(domain) {
		return nil, "", fmt.Errorf("registry %q is written in upper case, which Kubernetes and Kyverno keep as written: no pod's image would match; write %q", domain, strings.ToLower(domain))
	}
	path := strings.TrimSuffix(strings.TrimSuffix(reference.Path(named), probe), "/")
	if domain == "docker.io" && path == "library" && !strings.HasSuffix(prefix, "library") {
		path = "" // "docker.io/*": ParseNormalizedNamed put the probe under library/
	} else if domain == "docker.io" && path == "library" {
		// Kyverno writes an official image as docker.io/<name>, which
		// docker.io/library/* never matches.
		return nil, "", errors.New(`Docker Hub's official images ("redis", "nginx") are matched as docker.io/<name>, which "library/*" never matches: name each official image the environment runs`)
	}
	if path == "" {
		return []string{domain + "/*"}, ScopeRegistry, nil
	}
	return []string{domain + "/" + path + "/*"}, ScopePath, nil
}

// GatedPatterns returns the patterns of the gated repositories an
// admission verifies, sorted and without repeats.
func (a Admission) GatedPatterns() []string {
	var images []string
	for _, r := range a.Rules {
		images = append(images, r.Image)
	}
	return patternsOf(images)
}

// UnsignedPatterns returns the patterns of the images an admission admits
// without a signature, sorted and without repeats.
func (a Admission) UnsignedPatterns() []string {
	var images []string
	for _, u := range a.Unsigned {
		images = append(images, u.Image)
	}
	return patternsOf(images)
}

// patternsOf returns the patterns of images, sorted and without repeats;
// an image that is not valid is left to the checks.
func patternsOf(images []string) []string {
	var out []string
	for _, img := range images {
		p, _, _ := ImagePatterns(img)
		out = append(out, p...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Admits reports whether an image of the pod (as written) is admitted by
// the patterns, as Kyverno matches it: the image rendered as
// ImagePatterns renders references, against each pattern.
func Admits(patterns []string, image string) bool {
	norm, err := NormalizeImage(image)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(patterns, func(p string) bool { return wildcardMatch(p, norm) })
}

// PatternSet holds image patterns for Admits to look up by their literal
// prefix (up to the first wildcard) rather than one after the other:
// checking each deployment of an environment against the patterns of every
// pipeline that signs into it was the square of the services (2.3 s of a
// 5,000-service build).
type PatternSet struct {
	byPrefix map[string][]string
	// lengths are the prefixes' distinct lengths, ascending.
	lengths []int
}

// NewPatternSet returns the set of patterns.
func NewPatternSet(patterns []string) PatternSet {
	s := PatternSet{byPrefix: map[string][]string{}}
	for _, p := range patterns {
		prefix := p
		if i := strings.IndexAny(p, "*?"); i >= 0 {
			prefix = p[:i]
		}
		if _, ok := s.byPrefix[prefix]; !ok {
			s.lengths = append(s.lengths, len(prefix))
		}
		s.byPrefix[prefix] = append(s.byPrefix[prefix], p)
	}
	slices.Sort(s.lengths)
	s.lengths = slices.Compact(s.lengths)
	return s
}

// Admits is Admits of the set's patterns: a name a pattern matches starts
// with the pattern's literal prefix.
func (s PatternSet) Admits(image string) bool {
	if len(s.lengths) == 0 {
		return false
	}
	norm, err := NormalizeImage(image)
	if err != nil {
		return false
	}
	for _, n := range s.lengths {
		if n > len(norm) {
			break
		}
		for _, p := range s.byPrefix[norm[:n]] {
			if wildcardMatch(p, norm) {
				return true
			}
		}
	}
	return false
}

// NormalizeImage renders an image as Kyverno's GetImageInfo (and
// image_normalize) do with the default configuration: docker.io added
// when the first component is not a registry, the path as written,
// ":latest" when there is neither tag nor digest, "@digest" alone when
// there is one. tools/supplychain holds it to Kyverno's.
func NormalizeImage(image string) (string, error) {
	full := image
	if i := strings.IndexRune(image, '/'); i == -1 || (!strings.ContainsAny(image[:i], ".:") && image[:i] != "localhost" && strings.ToLower(image[:i]) == image[:i]) {
		full = "docker.io/" + image
	}
	ref, err := reference.Parse(full)
	if err != nil {
		return "", err
	}
	named, ok := ref.(reference.Named)
	if !ok {
		return "", fmt.Errorf("%q has no repository", image)
	}
	name := named.Name()
	if d, ok := ref.(reference.Digested); ok {
		return name + "@" + d.Digest().String(), nil
	}
	if t, ok := ref.(reference.Tagged); ok {
		return name + ":" + t.Tag(), nil
	}
	return name + ":latest", nil
}

// wildcardMatch matches name against pattern, where * matches any run of
// characters and ? any one (Kyverno's wildcard.Match).
func wildcardMatch(pattern, name string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := 0; i <= len(name); i++ {
				if wildcardMatch(pattern[1:], name[i:]) {
					return true
				}
			}
			return false
		case '?':
			if name == "" {
				return false
			}
		default:
			if name == "" || name[0] != pattern[0] {
				return false
			}
		}
		pattern, name = pattern[1:], name[1:]
	}
	return name == ""
}
