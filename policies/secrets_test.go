package policies

import (
	"slices"
	"strings"
	"testing"

	"github.com/pipec/pipec/model"
)

func TestFindSecrets(t *testing.T) {
	found := map[string]string{
		// Known token formats, anywhere in a string.
		`pipelines.p.on.params.token`:                        "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
		`tasks.t.steps[0].script`:                            "echo glpat-AbCdEfGhIjKlMnOpQrSt | docker login",
		`tasks.t.steps[0].args[1]`:                           "--key=-----BEGIN OPENSSH PRIVATE KEY-----",
		`apps.a.metadata.annotations."slack"`:                "xoxb-1234567890-abcdefghij",
		`tasks.t.steps[0].env.AWS_ACCESS_KEY_ID`:             "AKIAIOSFODNN7EXAMPLE",
		`pipelines.p.params.url.default`:                     "https://deploy:s3cr3t-passw0rd@git.example.com/acme/api.git",
		`tasks.t.steps[0].args[0]`:                           "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		`apps.a.source.helm.parameters[0].value`:             "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA",
		`environments.prod.labels.db-password`:               "q9X!v2Lr#8mZ@4kT7pW",
		`tasks.t.steps[0].script.2`:                          "mysql --password=Tr0ub4dor&3xyz -h db",
		`teams.shop.roles.dev.description`:                   "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		`pipelines.p.tasks.push.params.registry-token.value`: "dckr_pat_b2c8a1e7f4d9c3a6e5b0f2d8c1a7e4b9",
	}
	notFound := map[string]string{
		// References, paths and names are not credentials: the catalog's
		// git-clone and friends.
		`tasks.t.steps[0].env.WORKSPACE_BASIC_AUTH_DIRECTORY_PATH`: "$(workspaces.basic-auth.path)",
		`tasks.t.steps[0].env.PASSWORD_FILE`:                       "/etc/creds/password",
		`tasks.t.steps[0].env.TOKEN_PATH`:                          "/var/run/secrets/token",
		`tasks.t.steps[0].env.GITHUB_TOKEN_NAME`:                   "github-token",
		`tasks.t.steps[0].script`:                                  "git clone https://$(cat /secrets/token)@github.com/acme/api.git\necho TOKEN=$TOKEN",
		`tasks.t.steps[0].args[0]`:                                 "--password-file=/secrets/pw",
		`pipelines.p.params.url.default`:                           "https://github.com/acme/api.git",
		`apps.a.image.digest`:                                      "sha256:00feed335fe561979f2cdcc30a5191231977c5631fe79c40f7d3ab63b4fa222f",
		`triggers.webhookSecret.key`:                               "secret",
		`tasks.t.steps[0].env.API_KEY`:                             "changeme",
		`tasks.t.steps[0].image`:                                   "gcr.io/kaniko-project/executor:v1.23.2@sha256:9e69fd4330ec887829c780f5126dd80edc663df6def362cd22e79bcdf00ac53f",
	}
	var texts []Text
	for p, v := range found {
		texts = append(texts, Text{Path: model.Path(p), Value: v})
	}
	texts = append(texts,
		Text{Path: "pipelines.p.tasks.push.params.registry-token.name", Value: "registry-token"},
		Text{Path: "apps.a.source.helm.parameters[0].name", Value: "auth.password"})
	for p, v := range notFound {
		texts = append(texts, Text{Path: model.Path(p + ".x"), Value: v})
	}
	got := map[string]string{}
	for _, s := range FindSecrets(texts, func(model.Path) string { return "" }) {
		got[s.Path] = s.Kind
	}
	for p := range found {
		if got[p] == "" {
			t.Errorf("%s: %q not found", p, found[p])
		}
	}
	for p := range notFound {
		if k := got[p+".x"]; k != "" {
			t.Errorf("%s: %q taken for %s", p, notFound[p], k)
		}
	}
}

func TestEgressShare(t *testing.T) {
	for _, c := range []struct {
		cidrs []string
		want  float64
	}{
		{[]string{"0.0.0.0/0"}, 1},
		{[]string{"0.0.0.0/1", "128.0.0.0/1"}, 1},
		{[]string{"0.0.0.0/1", "0.0.0.0/2"}, 0.5},
		{[]string{"10.0.0.0/8", "10.1.0.0/16"}, 1.0 / 256},
		{[]string{"140.82.112.0/20"}, 1.0 / (1 << 20)},
		{[]string{"::/0"}, 1},
		{[]string{"::/1", "8000::/1"}, 1},
		{[]string{"not a cidr"}, 0},
	} {
		if got := egressShare(c.cidrs); got != c.want {
			t.Errorf("egressShare(%v) = %v, want %v", c.cidrs, got, c.want)
		}
	}
}

// TestTokenFormatHints requires each token format's regular expression to
// match only texts that hold one of its strings (secretIn skips the others):
// every match of it over a corpus of texts that hold credentials, and of
// strings built from the expression's own literals, holds one.
func TestTokenFormatHints(t *testing.T) {
	corpus := []string{
		"ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "gho_" + strings.Repeat("a", 36), "github_pat_" + strings.Repeat("B", 30),
		"glpat-AbCdEfGhIjKlMnOpQrSt", "glagent-" + strings.Repeat("x", 24), "AKIAIOSFODNN7EXAMPLE", "ASIA" + strings.Repeat("Z", 16),
		"ABIA0123456789ABCDEF", "ACCA0123456789ABCDEF", "xoxb-1234567890-abcdefghij", "sk_live_" + strings.Repeat("a", 24),
		"rk_live_" + strings.Repeat("b", 24), "AIza" + strings.Repeat("c", 35), "npm_" + strings.Repeat("d", 36),
		"dckr_pat_b2c8a1e7f4d9c3a6e5b0f2d8c1a7e4b9", "pypi-AgE" + strings.Repeat("e", 60), "-----BEGIN OPENSSH PRIVATE KEY-----",
		"-----BEGIN PRIVATE KEY-----", "-----BEGIN PGP PRIVATE KEY BLOCK-----",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	}
	matched := 0
	for _, f := range tokenFormats {
		for _, text := range corpus {
			for _, m := range f.re.FindAllString("x "+text+" y", -1) {
				matched++
				if !slices.ContainsFunc(f.in, func(lit string) bool { return strings.Contains(m, lit) }) {
					t.Errorf("%s matches %q, which holds none of %q", f.kind, m, f.in)
				}
			}
		}
	}
	if matched < len(corpus) {
		t.Fatalf("only %d matches over %d credentials: the corpus no longer exercises the formats", matched, len(corpus))
	}
}
