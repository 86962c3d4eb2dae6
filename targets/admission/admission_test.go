package admission

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/pipec/pipec/model"
)

// TestPolicySizeGrowsByRepositories holds what bySigner is for: the
// policy of an environment that 2,000 pipelines sharing one key admit
// into grows by their repositories only (a rule per pipeline made it 1.5
// MB, which the API server refuses), and pipelines with identities of
// their own keep a rule each, named after them.
func TestPolicySizeGrowsByRepositories(t *testing.T) {
	env := &model.Environment{Name: "prod", Namespace: "apps-prod"}
	shared := &model.Sign{PublicKey: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGQGN68p/zcLwzJKdczuHHWj23Nez\ntsjNvn8HQ2lGHPC4yENUzWRUQiBXPVi/dBlZu3FaT77QhzKBFDPTb1aOMA==\n-----END PUBLIC KEY-----"}
	size := func(n int) (int, []string) {
		a := model.Admission{Environment: "prod"}
		for i := range n {
			a.Rules = append(a.Rules, model.AdmitRule{Pipeline: fmt.Sprintf("svc-%04d", i), Image: fmt.Sprintf("ghcr.io/acme/svc-%04d", i), Sign: shared})
		}
		a.Rules = append(a.Rules, model.AdmitRule{Pipeline: "zz-keyless", Image: "ghcr.io/acme/zz", Sign: &model.Sign{Keyless: &model.Keyless{Issuer: "https://issuer", Subject: "https://kubernetes.io/namespaces/ci/serviceaccounts/zz-keyless-pipeline"}}})
		u := kyverno(env, a)
		raw, err := json.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range u.Object["spec"].(map[string]any)["rules"].([]any) {
			names = append(names, r.(map[string]any)["name"].(string))
		}
		return len(raw), names
	}
	small, names := size(10)
	if len(names) != 3 || names[0] != OnlyAdmittedRule || names[1] != "signed-by-key-"+names[1][len("signed-by-key-"):] || names[2] != "signed-by-zz-keyless" {
		t.Errorf("rules %v, want %s, one signed-by-key-<hash> for the shared key and signed-by-zz-keyless", names, OnlyAdmittedRule)
	}
	large, _ := size(2010)
	if per := (large - small) / 2000; per > 150 {
		t.Errorf("the policy grows by %d bytes per pipeline sharing a key (%d bytes for 2,010), want at most 150: a rule per pipeline is back?", per, large)
	}
	if large > 512<<10 {
		t.Errorf("the policy of 2,010 pipelines is %d bytes", large)
	}
}
