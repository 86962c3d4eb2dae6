package model

import (
	"slices"
	"strings"
)

// Gates are the supply-chain gates of a pipeline that builds an image.
type Gates struct {
	// Image is the repository the pipeline builds.
	Image string
	// Build names the task that builds it; empty: the one task that
	// exposes IMAGE_URL and IMAGE_DIGEST.
	Build               string
	RegistryCredentials string
	Scan                *Scan
	SBOM                *SBOM
	Sign                *Sign
	Path                Path
}

// Severities are the vulnerability severities, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

// SeveritiesFrom returns the severities at or above s, lowest first.
func SeveritiesFrom(s string) []string {
	for i, x := range Severities {
		if x == s {
			return Severities[i:]
		}
	}
	return nil
}

// Scan is the vulnerability scan gate.
type Scan struct {
	Tool       string // trivy, grype
	FailOn     string // a severity
	IgnoreFile string
	Workspace  string
	Image      string
	OnError    string // stopAndFail, continue
	// Database is where the scanner's database comes from; nil: the
	// scanner's defaults.
	Database *ScanDatabase
	Path     Path
}

// Fatal reports whether a failing scan fails the run.
func (s *Scan) Fatal() bool { return s.OnError != "continue" }

// SBOM is the SBOM gate.
type SBOM struct {
	Format string // spdx-json, cyclonedx-json
	Image  string
	Path   Path
}

// Sign is the signing and provenance gate.
type Sign struct {
	// Key is set for signing with a key by a cosign step.
	Key       *SigningKey
	PublicKey string
	// Keyless is set for keyless signing by Tekton Chains.
	Keyless *Keyless
	// Rekor is the transparency log's URL; empty for none.
	Rekor string
	// Admit are the environments that admit only images signed this way.
	Admit []string
	Path  Path
}

// SigningKey is a cosign signing key: a Secret's keys, or a KMS URI.
type SigningKey struct {
	Secret   string
	Key      string
	Password string
	// URI is set for a key given as a string: a KMS URI when it is right.
	URI  string
	Path Path
}

// KMSSchemes are the URI schemes of the key management services cosign
// signs with.
var KMSSchemes = []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://"}

// KMS reports whether the key is a KMS URI.
func (k *SigningKey) KMS() bool {
	for _, s := range KMSSchemes {
		if strings.HasPrefix(k.URI, s) {
			return true
		}
	}
	return false
}

// Keyless is keyless signing with a Fulcio certificate: the gates' sign
// task presents a token of the pipeline's ServiceAccount (audience
// sigstore), Tekton Chains its own token for the provenance.
type Keyless struct {
	Issuer    string
	Subject   string
	Fulcio    string
	TokenFile string
	Path      Path
}

// Builders returns the names of the pipeline's tasks that build an image:
// those whose task exposes the results IMAGE_URL and IMAGE_DIGEST.
func (p *Plan) Builders(pl *Pipeline) []string {
	var out []string
	for _, t := range pl.Tasks {
		if def := p.Definition(t); def != nil && def.Result("IMAGE_URL") != nil && def.Result("IMAGE_DIGEST") != nil {
			out = append(out, t.Name)
		}
	}
	return out
}

// GateBuild returns the task the pipeline's gates follow: gates.build, or
// the one task that builds an image; empty when there is none (or several
// and gates.build is unset), which the checks report.
func (p *Plan) GateBuild(pl *Pipeline) string {
	if pl.Gates == nil {
		return ""
	}
	builders := p.Builders(pl)
	if pl.Gates.Build != "" {
		for _, b := range builders {
			if b == pl.Gates.Build {
				return b
			}
		}
		return ""
	}
	if len(builders) == 1 {
		return builders[0]
	}
	return ""
}

// Names of the tasks the gates add to a pipeline.
const (
	GateScanTask = "scan-image"
	GateSBOMTask = "sbom-image"
	GateSignTask = "sign-image"
)

// GateTasks returns the names of the gate tasks the pipeline's gates add.
func (g *Gates) GateTasks() []string {
	var out []string
	if g.Scan != nil {
		out = append(out, GateScanTask)
	}
	if g.SBOM != nil {
		out = append(out, GateSBOMTask)
	}
	if g.Sign != nil {
		out = append(out, GateSignTask)
	}
	return out
}

// ChainsSetting is one key of Tekton Chains' configuration and the gate
// that asks for it.
type ChainsSetting struct {
	Key, Value string
	Pipeline   string
	Path       Path
}

// ChainsConfig returns the keys of Tekton Chains' configuration (the
// chains-config ConfigMap of tekton-chains) that the pipelines' sign gates
// need, sorted by key then pipeline: SLSA provenance stored in the OCI
// registry beside the image, transparency, and the signer (a KMS key, or
// keyless with Fulcio). Two pipelines may ask for different values of a
// key, which the checks report.
func (p *Plan) ChainsConfig() []ChainsSetting {
	var out []ChainsSetting
	for _, pl := range p.Pipelines {
		if pl.Gates == nil || pl.Gates.Sign == nil {
			continue
		}
		s := pl.Gates.Sign
		add := func(k, v string, at Path) {
			out = append(out, ChainsSetting{Key: k, Value: v, Pipeline: pl.Name, Path: at})
		}
		add("artifacts.taskrun.format", "slsa/v1", s.Path)
		add("artifacts.taskrun.storage", "oci", s.Path)
		add("artifacts.pipelinerun.format", "slsa/v1", s.Path)
		add("artifacts.pipelinerun.storage", "oci", s.Path)
		// Chains never signs the image: it would sign it when the build
		// TaskRun finishes, before the scan ran. The gates' sign task,
		// after the scan, makes the only signature the admission
		// policies accept; Chains signs the provenance.
		add("artifacts.oci.storage", "", s.Path)
		if s.Rekor != "" {
			add("transparency.enabled", "true", s.Path.Field("rekor"))
			add("transparency.url", s.Rekor, s.Path.Field("rekor"))
		} else {
			add("transparency.enabled", "false", s.Path.Field("rekor"))
		}
		switch {
		case s.Keyless != nil:
			k := s.Keyless
			add("artifacts.taskrun.signer", "x509", k.Path)
			add("artifacts.pipelinerun.signer", "x509", k.Path)
			add("signers.x509.fulcio.enabled", "true", k.Path)
			add("signers.x509.fulcio.address", k.Fulcio, k.Path.Field("fulcio"))
			add("signers.x509.fulcio.issuer", k.Issuer, k.Path.Field("issuer"))
			add("signers.x509.identity.token.file", k.TokenFile, k.Path.Field("tokenFile"))
		case s.Key != nil:
			// Chains signs with the key pair in the Secret signing-secrets
			// of tekton-chains (its x509 signer, the default), never with
			// the gate's key, KMS or not: Chains signs the provenance of
			// every run, pull requests' included, and a reader trusting
			// the gate's key would take those for reviewed builds.
			add("artifacts.taskrun.signer", "x509", s.Key.Path)
			add("artifacts.pipelinerun.signer", "x509", s.Key.Path)
			add("signers.x509.fulcio.enabled", "false", s.Key.Path)
		}
	}
	slices.SortStableFunc(out, func(a, b ChainsSetting) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Admission is what an environment admits: for each pipeline whose sign
// gate names the environment, its image repository signed by its identity.
type Admission struct {
	Environment string
	Rules       []AdmitRule
	// Unsigned are the images admitted without a signature
	// (model/admission.go): every other image is refused.
	Unsigned []UnsignedImage
}

// AdmitRule admits the images of one pipeline's repository signed by its
// sign gate's key or keyless identity.
type AdmitRule struct {
	Pipeline string
	Image    string
	Sign     *Sign
	Path     Path
}

// Admissions returns, per environment some sign gate admits into (sorted
// by name), the rules of the pipelines that do (sorted by pipeline).
// Environments that do not exist are left to the checks.
func (p *Plan) Admissions() []Admission {
	byEnv := map[string][]AdmitRule{}
	for _, pl := range p.Pipelines {
		if pl.Gates == nil || pl.Gates.Sign == nil {
			continue
		}
		for i, env := range pl.Gates.Sign.Admit {
			if p.Environment(env) == nil {
				continue
			}
			byEnv[env] = append(byEnv[env], AdmitRule{Pipeline: pl.Name, Image: pl.Gates.Image, Sign: pl.Gates.Sign, Path: pl.Gates.Sign.Path.Field("admit").Index(i)})
		}
	}
	var out []Admission
	for env, rules := range byEnv {
		slices.SortFunc(rules, func(a, b AdmitRule) int { return strings.Compare(a.Pipeline, b.Pipeline) })
		out = append(out, Admission{Environment: env, Rules: rules, Unsigned: p.Unsigned(p.Environment(env))})
	}
	slices.SortFunc(out, func(a, b Admission) int { return strings.Compare(a.Environment, b.Environment) })
	return out
}

// KeylessAudience is the audience of the ServiceAccount token the keyless
// sign task presents to Fulcio.
const KeylessAudience = "sigstore"

// ServiceAccountIdentity is the identity Fulcio certifies for a token of
// the ServiceAccount sa of namespace ns (its SAN URI).
func ServiceAccountIdentity(ns, sa string) string {
	return "https://kubernetes.io/namespaces/" + ns + "/serviceaccounts/" + sa
}
