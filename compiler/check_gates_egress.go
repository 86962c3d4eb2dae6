package compiler

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/distribution/reference"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// Rules of what the gates reach over the network.
var (
	ruleGateEgress = rule("gate-egress", diag.Warning,
		"A gated pipeline runs in a namespace that denies egress by default, and no egress rule of its environment declares a host its gates reach: the scanner's database, the image's registry, Rekor or Fulcio, or Sigstore's trust root",
		`declare the host on the egress rule whose CIDRs serve it (network: egress: registry: {cidrs: ["185.199.108.0/22"], ports: [443], hosts: ["ghcr.io"]}); NetworkPolicies match addresses, not names, so find the host's addresses; or mirror the scanner's database where the namespace reaches it (scan: database: repository: "registry.internal:5000/aquasec/trivy-db:2")`)
	ruleScanDatabase = rule("scan-database", diag.Error,
		"A scan gate's database location does not fit its scanner, or is not a repository or URL",
		`Trivy takes database: {repository, javaRepository} (OCI repositories such as "registry.internal:5000/aquasec/trivy-db:2"), Grype database: updateURL (an https URL such as "https://grype-db.internal/databases")`)
)

// gateHost is a host a pipeline's gates reach, where that is configured,
// and what for.
type gateHost struct {
	host, what string
	at         model.Path
	hint       string
}

// checkGateEgress checks the gates' database locations, and warns when
// the CI namespace denies egress by default and no egress rule of its
// environment declares a host the gates reach.
func (c *checker) checkGateEgress() {
	for _, p := range c.plan.Pipelines {
		if p.Gates != nil && p.Gates.Scan != nil && p.Gates.Scan.Database != nil {
			c.checkScanDatabase(p.Gates.Scan)
		}
	}
	ci := c.plan.EnvironmentForNamespace(c.plan.Namespace)
	if ci == nil || !ci.Network.DefaultDeny {
		return
	}
	var declared []string
	for _, r := range ci.Network.Egress {
		declared = append(declared, r.Hosts...)
	}
	// One finding per host, at the first gate that reaches it: the fix
	// is one egress rule.
	type need struct {
		gateHost
		pipelines []string
	}
	var needs []*need
	byHost := map[string]*need{}
	for _, p := range c.plan.Pipelines {
		if p.Gates == nil || p.Ref != nil {
			continue
		}
		for _, h := range gateHosts(p.Gates) {
			if h.host == "" || slices.ContainsFunc(declared, func(d string) bool { return hostMatches(d, h.host) }) {
				continue
			}
			n := byHost[h.host]
			if n == nil {
				n = &need{gateHost: h}
				byHost[h.host] = n
				needs = append(needs, n)
			}
			if !slices.Contains(n.pipelines, p.Name) {
				n.pipelines = append(n.pipelines, p.Name)
			}
		}
	}
	for _, n := range needs {
		who := fmt.Sprintf("pipeline %q", n.pipelines[0])
		if len(n.pipelines) > 1 {
			who = "pipelines " + strings.Join(n.pipelines, ", ")
		}
		d := c.report(ruleGateEgress, n.at, "the gates of %s reach %s (%s), but environment %q, which they run in, denies egress by default and declares that host on none of its egress rules",
			who, n.host, n.what, ci.Name)
		d.Expected = fmt.Sprintf(`network: egress: <name>: {cidrs: [<the addresses of %s>], ports: [443], hosts: [%q]}`, n.host, n.host)
		d.Hint = "NetworkPolicies match addresses, not names: declare the host on the rule whose CIDRs serve it (they may change: CDNs), or route it through what the namespace reaches"
		if n.hint != "" {
			d.Hint += "; " + n.hint
		}
	}
}

// gateHosts are the hosts a pipeline's gates reach.
func gateHosts(g *model.Gates) []gateHost {
	var out []gateHost
	if s := g.Scan; s != nil {
		db := s.Database
		if db == nil {
			db = &model.ScanDatabase{Path: s.Path}
		}
		mirror := "or mirror the database where the namespace reaches it (gates.scan.database)"
		switch s.Tool {
		case "grype":
			u := cmp.Or(db.UpdateURL, model.GrypeDBUpdateURL)
			out = append(out, gateHost{urlHost(u), "Grype's vulnerability database, " + u, db.Path, mirror})
		default:
			// Trivy tries its default repositories in order, the next
			// when one fails: the first must be reachable, or the
			// location set to one that is.
			repo := cmp.Or(db.Repository, model.TrivyDBRepositories[0])
			java := cmp.Or(db.JavaRepository, model.TrivyJavaDBRepositories[0])
			hint := mirror + `, or the public copy the namespace reaches (database: repository: "ghcr.io/aquasecurity/trivy-db:2", javaRepository: "ghcr.io/aquasecurity/trivy-java-db:1")`
			out = append(out, gateHost{repoHost(repo), "Trivy's vulnerability database, " + repo, db.Path, hint},
				gateHost{repoHost(java), "Trivy's Java database, " + java, db.Path, hint})
		}
	}
	if g.Scan != nil || g.SBOM != nil || g.Sign != nil {
		out = append(out, gateHost{repoHost(g.Image), "the image's registry: the gates pull the image and push signatures", g.Path.Field("image"), ""})
	}
	if s := g.Sign; s != nil {
		public := false
		if s.Rekor != "" {
			h := urlHost(s.Rekor)
			public = public || strings.HasSuffix(h, ".sigstore.dev")
			out = append(out, gateHost{h, "Rekor, the transparency log signatures are recorded in", s.Path.Field("rekor"), `or rekor: "" to record none (private images)`})
		}
		if k := s.Keyless; k != nil {
			h := urlHost(k.Fulcio)
			public = public || strings.HasSuffix(h, ".sigstore.dev")
			out = append(out, gateHost{h, "Fulcio, which certifies the keyless signature", k.Path.Field("fulcio"), ""})
		}
		if k := s.Key; k != nil && k.KMS() {
			if h := kmsHost(k.URI); h != "" {
				out = append(out, gateHost{h, "the KMS that signs", k.Path, ""})
			}
		}
		if public {
			out = append(out, gateHost{model.SigstoreTUFHost, "the trust root cosign fetches for the public Sigstore instance", s.Path, ""})
		}
	}
	return out
}

// kmsHost is the API host cosign reaches for a KMS key URI: Google Cloud
// KMS, AWS KMS (the endpoint in the URI, or the region's of its ARN), an
// Azure Key Vault; "" when the URI does not say (HashiCorp Vault's address
// comes from the environment).
func kmsHost(uri string) string {
	scheme, rest, _ := strings.Cut(uri, "://")
	switch scheme {
	case "gcpkms":
		return "cloudkms.googleapis.com"
	case "azurekms":
		h, _, _ := strings.Cut(rest, "/")
		return strings.ToLower(h)
	case "awskms":
		h, key, _ := strings.Cut(rest, "/")
		if h != "" {
			h, _, _ = strings.Cut(h, ":")
			return strings.ToLower(h)
		}
		// arn:aws:kms:<region>:<account>:key/<id> or alias/...
		if parts := strings.Split(key, ":"); len(parts) > 3 && parts[0] == "arn" && parts[3] != "" {
			return "kms." + parts[3] + ".amazonaws.com"
		}
	}
	return ""
}

// hostMatches reports whether a declared host (or *.suffix) is host.
func hostMatches(declared, host string) bool {
	declared = strings.ToLower(strings.TrimSuffix(declared, "."))
	if suffix, ok := strings.CutPrefix(declared, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return declared == host
}

// repoHost is the host an image or OCI repository is pulled from: Docker
// Hub's registry for docker.io.
func repoHost(repo string) string {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return ""
	}
	h := strings.ToLower(reference.Domain(named))
	if h == "docker.io" {
		return "registry-1.docker.io"
	}
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return h
}

func urlHost(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// checkScanDatabase checks that a scan's database location fits its
// scanner and parses.
func (c *checker) checkScanDatabase(s *model.Scan) {
	db := s.Database
	trivy := s.Tool != "grype"
	for _, f := range []struct {
		field, value string
		forTrivy     bool
	}{{"repository", db.Repository, true}, {"javaRepository", db.JavaRepository, true}, {"updateURL", db.UpdateURL, false}} {
		if f.value == "" {
			continue
		}
		at := db.Path.Field(f.field)
		if f.forTrivy != trivy {
			d := c.report(ruleScanDatabase, at, "gates.scan.database.%s is a setting of %s, and this scan runs %s", f.field, map[bool]string{true: "Trivy", false: "Grype"}[f.forTrivy], s.Tool)
			if trivy {
				d.Expected = `repository or javaRepository, Trivy's database locations`
			} else {
				d.Expected = `updateURL, Grype's database location`
			}
			continue
		}
		if f.forTrivy {
			if _, err := reference.ParseNormalizedNamed(f.value); err != nil || strings.Contains(f.value, "://") {
				d := c.report(ruleScanDatabase, at, "%q is not an OCI repository", f.value)
				d.Expected = `an OCI repository with its tag, such as "registry.internal:5000/aquasec/trivy-db:2"`
			}
		} else if u, err := url.Parse(f.value); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			d := c.report(ruleScanDatabase, at, "%q is not an http(s) URL", f.value)
			d.Expected = `an https URL such as "https://grype-db.internal/databases"`
		}
	}
}
