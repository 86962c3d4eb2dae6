package compiler

import (
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/distribution/reference"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// Rules of the supply-chain gates.
var (
	ruleGates      = rule("gates", diag.Error, "A pipeline's supply-chain gates cannot be generated as written: no task builds the image, or a gate lacks what it needs", "gate a pipeline whose build task exposes IMAGE_URL and IMAGE_DIGEST, and give each gate the workspace, key or image it names")
	ruleSigningKey = rule("signing-key", diag.Error, "A signing key is written into the configuration instead of referenced", "store the key pair in a Secret (cosign generate-key-pair k8s://<namespace>/<name>) and write key: secret: \"<name>\", or use a KMS URI; rotate a key that was committed")
	ruleAdmission  = rule("admission", diag.Error, "An admission policy names an environment that does not exist, or has no public identity to verify signatures with", "admit into environments declared under environments, and give a key-signed gate its publicKey")
)

// checkGates checks every pipeline's gates and what they share: Tekton
// Chains' configuration.
func (c *checker) checkGates() {
	for _, p := range c.plan.Pipelines {
		if p.Gates != nil {
			c.checkPipelineGates(p)
		}
	}
	c.checkChainsConfig()
}

func (c *checker) checkPipelineGates(p *model.Pipeline) {
	g := p.Gates
	if p.Ref != nil {
		d := c.report(ruleGates, g.Path, "pipeline %q is resolved by Tekton when it runs: pipec cannot add gates to it", p.Name)
		d.Hint = "gate a pipeline declared here, or add the gates to the remote pipeline"
		return
	}
	c.checkGateImage(g)
	builders := c.plan.Builders(p)
	switch {
	case g.Build != "" && !slices.Contains(builders, g.Build):
		if slices.ContainsFunc(p.Tasks, func(t *model.PipelineTask) bool { return t.Name == g.Build }) {
			d := c.report(ruleGates, g.Path.Field("build"), "task %q of pipeline %q does not build an image: it exposes no IMAGE_URL and IMAGE_DIGEST results", g.Build, p.Name)
			d.Expected = "a task that exposes IMAGE_URL and IMAGE_DIGEST (Tekton Chains' type hints)"
			d.Hint = "declare results: {IMAGE_URL: {}, IMAGE_DIGEST: {}} on the build task and write them from its build step"
		} else {
			names := make([]string, len(p.Tasks))
			for i, t := range p.Tasks {
				names[i] = t.Name
			}
			c.unknownName(g.Path.Field("build"), "task", g.Build, names)
		}
	case len(builders) == 0:
		d := c.report(ruleGates, g.Path, "pipeline %q builds no image: none of its tasks exposes IMAGE_URL and IMAGE_DIGEST", p.Name)
		d.Expected = "gates on a pipeline with a task that builds and pushes an image and reports IMAGE_URL and IMAGE_DIGEST"
		d.Hint = "remove gates, or declare results: {IMAGE_URL: {}, IMAGE_DIGEST: {}} on the build task"
	case g.Build == "" && len(builders) > 1:
		d := c.report(ruleGates, g.Path, "pipeline %q has several tasks that build an image: %s", p.Name, strings.Join(builders, ", "))
		d.Expected = "gates.build naming the one the gates check"
		d.Hint = fmt.Sprintf("set gates: build: %q", builders[0])
	}
	for _, name := range g.GateTasks() {
		for _, t := range p.Tasks {
			if t.Name == name && !strings.HasPrefix(string(t.Path), string(g.Path)) {
				d := c.report(ruleGates, t.Path, "task %q of pipeline %q has the name of a task the gates add", name, p.Name)
				d.Hint = "rename the task"
			}
		}
	}
	if s := g.Scan; s != nil {
		c.checkGateToolImage(s.Path.Field("image"), s.Image)
		if (s.IgnoreFile != "") != (s.Workspace != "") {
			d := c.report(ruleGates, s.Path, "scan: ignoreFile and workspace go together: the ignore file is read from the repository in the workspace")
			d.Expected = `scan: {ignoreFile: ".trivyignore", workspace: "source"}`
		}
		if s.Workspace != "" && !slices.ContainsFunc(p.Workspaces, func(w *model.Workspace) bool { return w.Name == s.Workspace }) {
			names := make([]string, len(p.Workspaces))
			for i, w := range p.Workspaces {
				names[i] = w.Name
			}
			c.unknownName(s.Path.Field("workspace"), "workspace", s.Workspace, names)
		}
		if s.IgnoreFile != "" && (strings.HasPrefix(s.IgnoreFile, "/") || slices.Contains(strings.Split(s.IgnoreFile, "/"), "..")) {
			d := c.report(ruleGates, s.Path.Field("ignoreFile"), "ignore file %q is not a path in the repository", s.IgnoreFile)
			d.Expected = "a relative path without .., such as \".trivyignore\""
		}
	}
	if s := g.SBOM; s != nil {
		c.checkGateToolImage(s.Path.Field("image"), s.Image)
		if g.Sign == nil || g.Sign.Key == nil {
			d := c.report(ruleGates, s.Path, "sbom: the SBOM is attached to the image as an attestation signed with the sign gate's key, and pipeline %q has none", p.Name)
			d.Hint = `add sign: key: secret: "<Secret of cosign generate-key-pair>"`
		}
	}
	if s := g.Sign; s != nil {
		c.checkSign(p, s)
	}
	if build := c.plan.GateBuild(p); build != "" {
		c.checkGatedUses(p, build)
	}
}

// checkGatedUses refuses what would use an image the gates have not
// passed: a finally task reading the build's results (finally tasks run
// whatever the gates found), and an app's image.fromPipeline taking its
// digest from a pipeline result that is not the gated build's.
func (c *checker) checkGatedUses(p *model.Pipeline, build string) {
	for _, t := range p.Tasks {
		if t.Name == build && t.Matrix != nil {
			d := c.report(ruleGates, t.Matrix.Path, "the gated build task %q of pipeline %q is fanned out by a matrix: its IMAGE_DIGEST is an array of digests the gates cannot check one by one", build, p.Name)
			d.Expected = "a build task without matrix, reporting one image"
			d.Hint = "build a multi-platform image (an index) in one task, or gate one pipeline per image"
		}
	}
	for _, t := range p.Finally {
		if readsResults(t, build) {
			d := c.report(ruleGates, t.Path, "finally task %q of pipeline %q reads the results of the gated build task %q: finally tasks run even when a gate fails", t.Name, p.Name, build)
			d.Expected = "the build's image used only by tasks, which pipec makes run after the gates"
			d.Hint = "move the task from finally to tasks, or read $(tasks.status) instead of the image"
		}
	}
	for _, a := range c.appsFromPipeline(p.Name) {
		fp := a.Image.FromPipeline
		for _, r := range p.Results {
			if r.Name != fp.Result {
				continue
			}
			for _, ref := range findRefs(r.Value.String) {
				if ref.Kind == "tasks" && len(ref.Parts) > 0 && ref.Parts[0] != build {
					d := c.report(ruleGates, r.Path, "result %q of pipeline %q, which app %q deploys, reads task %q, not the gated build task %q: the app would run an image the gates never checked", r.Name, p.Name, a.Name, ref.Parts[0], build)
					d.Expected = fmt.Sprintf("$(tasks.%s.results.IMAGE_DIGEST)", build)
					d.Hint = fmt.Sprintf("take the digest from %q, or set gates.build to %q", build, ref.Parts[0])
				}
			}
		}
	}
}

// checkGateImage checks gates.image: a repository, without tag or digest.
func (c *checker) checkGateImage(g *model.Gates) {
	named, err := reference.ParseNormalizedNamed(g.Image)
	if err != nil {
		d := c.report(ruleGates, g.Path.Field("image"), "invalid image repository %q: %v", g.Image, err)
		d.Expected = "an image repository such as ghcr.io/acme/api"
		return
	}
	if !reference.IsNameOnly(named) || strings.Contains(g.Image, "$(") {
		d := c.report(ruleGates, g.Path.Field("image"), "gates.image %q is not a bare repository", g.Image)
		d.Expected = "the repository the pipeline pushes to, such as ghcr.io/acme/api, without tag, digest or parameters"
		d.Hint = fmt.Sprintf("write %q: the gates read the image by the digest the build task reports", reference.TrimNamed(named).String())
	}
}

// checkGateToolImage checks a gate's own image: pinned by digest, since it
// runs with the registry credentials and the signing key.
func (c *checker) checkGateToolImage(path model.Path, image string) {
	if image == "" {
		return
	}
	named, err := reference.ParseNormalizedNamed(image)
	if _, digested := named.(reference.Digested); err != nil || !digested {
		d := c.report(ruleGates, path, "gate image %q is not pinned by digest", image)
		d.Expected = "an image pinned by digest, such as aquasec/trivy:0.58.1@sha256:<digest>"
		d.Hint = "a gate's image runs with the registry credentials and the signing key: pin what was reviewed"
	}
}

func (c *checker) checkSign(p *model.Pipeline, s *model.Sign) {
	switch {
	case s.Key != nil && s.Keyless != nil:
		d := c.report(ruleGates, s.Path, "sign: key and keyless are exclusive")
		d.Expected = "one of key (a cosign key) or keyless (Fulcio)"
	case s.Key == nil && s.Keyless == nil:
		d := c.report(ruleGates, s.Path, "sign: neither key nor keyless is set")
		d.Expected = `key: secret: "<Secret>" (cosign generate-key-pair k8s://<namespace>/<name>), a KMS URI, or keyless: {issuer: ..., subject: ...}`
	}
	if k := s.Key; k != nil {
		switch {
		case k.URI != "" && !k.KMS():
			what := "a signing key written into the configuration"
			if !strings.Contains(k.URI, "PRIVATE KEY") {
				what = "neither a Secret reference nor a KMS URI"
			}
			d := c.report(ruleSigningKey, k.Path, "sign.key is %s", what)
			d.Expected = fmt.Sprintf(`a Secret reference {secret: "cosign-key"} or a KMS URI (%s)`, strings.Join(model.KMSSchemes, ", "))
			d.Hint = "store the key pair in a Secret with cosign generate-key-pair k8s://<namespace>/<name> and write key: secret: \"<name>\"; a private key that was committed must be rotated"
		case k.URI == "" && (len(k.Secret) > 253 || !dnsSubdomainRE.MatchString(k.Secret)):
			d := c.report(ruleName, k.Path.Field("secret"), "invalid Secret name %q", k.Secret)
			d.Expected = "the name of a Secret holding cosign.key and cosign.password"
		}
	}
	if k := s.Keyless; k != nil {
		c.checkKeyless(p, k)
	}
	if s.Rekor != "" {
		c.checkHTTPSURL(s.Path.Field("rekor"), "rekor", s.Rekor)
	}
	if s.PublicKey != "" {
		switch b, _ := pem.Decode([]byte(s.PublicKey)); {
		case strings.Contains(s.PublicKey, "PRIVATE KEY"):
			d := c.report(ruleSigningKey, s.Path.Field("publicKey"), "sign.publicKey holds a private key")
			d.Expected = "the contents of cosign.pub: -----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----"
			d.Hint = "write the public key (cosign.pub) here, and rotate the private key that was committed"
		case b == nil || b.Type != "PUBLIC KEY":
			d := c.report(ruleAdmission, s.Path.Field("publicKey"), "sign.publicKey is not a PEM public key")
			d.Expected = "the contents of cosign.pub: -----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----"
		}
	}
	envs := make([]string, len(c.plan.Environments))
	for i, e := range c.plan.Environments {
		envs[i] = e.Name
	}
	for i, env := range s.Admit {
		path := s.Path.Field("admit").Index(i)
		if c.plan.Environment(env) == nil {
			d := c.report(ruleAdmission, path, "pipeline %q admits its images into environment %q, which does not exist", p.Name, env)
			d.Expected = "a declared environment: " + diag.OneOf(envs)
			if sug := diag.Suggest(env, envs); sug != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", sug)
			} else {
				d.Hint = "declare it under environments, or remove it from admit"
			}
		}
		if slices.Index(s.Admit, env) < i {
			c.report(ruleAdmission, path, "environment %q is named twice in admit", env)
		}
	}
	if len(s.Admit) > 0 && s.Key != nil && s.Key.URI == "" && s.PublicKey == "" {
		d := c.report(ruleAdmission, s.Path.Field("admit"), "the admission policies of pipeline %q cannot verify its signatures: sign.publicKey is not set", p.Name)
		d.Hint = "set sign.publicKey to the contents of cosign.pub"
	}
}

// checkChainsConfig reports keys of Tekton Chains' configuration that two
// pipelines' sign gates set differently: Chains has one configuration.
func (c *checker) checkChainsConfig() {
	first := map[string]model.ChainsSetting{}
	reported := map[string]bool{}
	for _, s := range c.plan.ChainsConfig() {
		f, ok := first[s.Key]
		if !ok {
			first[s.Key] = s
			continue
		}
		if f.Value != s.Value && !reported[s.Pipeline] {
			reported[s.Pipeline] = true
			d := c.report(ruleGates, s.Path, "pipeline %q needs Tekton Chains' %s to be %q, pipeline %q needs %q: Chains has one configuration", s.Pipeline, s.Key, s.Value, f.Pipeline, f.Value)
			d.Hint = "sign every pipeline of the cluster the same way (the same key kind, keyless settings and transparency log)"
		}
	}
}

// checkKeyless checks a keyless sign gate's identity: the admission
// policies admit the certificates of issuer for subject, which must be the
// identity the sign task signs as (the pipeline's ServiceAccount), never a
// pattern or empty (Kyverno then accepts any Fulcio certificate).
func (c *checker) checkKeyless(p *model.Pipeline, k *model.Keyless) {
	c.checkHTTPSURL(k.Path.Field("issuer"), "issuer", k.Issuer)
	c.checkHTTPSURL(k.Path.Field("fulcio"), "fulcio", k.Fulcio)
	if !strings.HasPrefix(k.TokenFile, "/") {
		d := c.report(ruleGates, k.Path.Field("tokenFile"), "keyless.tokenFile %q is not an absolute path", k.TokenFile)
		d.Expected = `the path where the Chains controller reads its identity token, such as "/var/run/sigstore/cosign/oidc-token"`
	}
	want := ""
	if c.plan.Namespace != "" {
		want = model.ServiceAccountIdentity(c.plan.Namespace, p.ServiceAccount())
	}
	switch {
	case k.Subject == "":
		d := c.report(ruleGates, k.Path.Field("subject"), "keyless.subject of pipeline %q is not set and there is no CI namespace to derive it from", p.Name)
		d.Expected = "the identity of the ServiceAccount the pipeline runs as, https://kubernetes.io/namespaces/<namespace>/serviceaccounts/" + p.ServiceAccount()
		d.Hint = "set namespace (the CI namespace), or keyless.subject to the pipeline's ServiceAccount identity"
	case strings.ContainsAny(k.Subject, "*?"):
		d := c.report(ruleGates, k.Path.Field("subject"), "keyless.subject %q is a pattern: the admission policies would accept the images any matching identity signs", k.Subject)
		d.Expected = "the exact identity of the pipeline's ServiceAccount"
		if want != "" {
			d.Hint = fmt.Sprintf("remove subject (it defaults to %q)", want)
		}
	case want != "" && k.Subject != want:
		d := c.report(ruleGates, k.Path.Field("subject"), "keyless.subject %q is not the identity pipeline %q signs as", k.Subject, p.Name)
		d.Expected = fmt.Sprintf("%q: the sign task, after the scan, signs with a token of the pipeline's ServiceAccount; no other signature proves the image passed the gates", want)
		d.Hint = "remove subject, it defaults to that identity"
	}
}

// checkHTTPSURL checks that a sigstore service's URL is an https URL.
func (c *checker) checkHTTPSURL(path model.Path, field, v string) {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		d := c.report(ruleGates, path, "%s %q is not an https URL", field, v)
		d.Expected = "an https URL such as \"https://example.com\""
	}
}
