package model

// ScanDatabase is where a scanner's vulnerability database comes from.
type ScanDatabase struct {
	// Repository and JavaRepository are Trivy's --db-repository and
	// --java-db-repository.
	Repository     string
	JavaRepository string
	// UpdateURL is Grype's db.update-url.
	UpdateURL string
	Path      Path
}

// The scanners' database locations when gates.scan.database does not
// say (Trivy 0.58.1's --db-repository and --java-db-repository defaults,
// in the order it tries them; Grype v0.119.0's db.update-url), and the
// trust root cosign fetches for the public Sigstore instance.
var (
	TrivyDBRepositories     = []string{"mirror.gcr.io/aquasec/trivy-db:2", "ghcr.io/aquasecurity/trivy-db:2"}
	TrivyJavaDBRepositories = []string{"mirror.gcr.io/aquasec/trivy-java-db:1", "ghcr.io/aquasecurity/trivy-java-db:1"}
	GrypeDBUpdateURL        = "https://grype.anchore.io/databases"
	SigstoreTUFHost         = "tuf-repo-cdn.sigstore.dev"
)
