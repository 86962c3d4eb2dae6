package compiler

import (
	"regexp"

	"github.com/pipec/pipec/model"
)

// envFieldRE are the pod fields Kubernetes lets an environment variable
// read (validateEnvVarValueFrom's fieldRef paths).
var envFieldRE = regexp.MustCompile(`^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs))$`)

// checkEnvSources checks the variables a container takes from its pod and
// from whole Secrets and ConfigMaps.
func (c *checker) checkEnvSources(s *model.Step) {
	for _, e := range s.Env {
		if e.FieldPath != "" && !envFieldRE.MatchString(e.FieldPath) {
			d := c.report(ruleEnv, e.Path.Field("field"), "environment variable %s reads pod field %q, which Kubernetes does not offer", e.Name, e.FieldPath)
			d.Expected = "metadata.name, metadata.namespace, metadata.uid, metadata.labels['<key>'], metadata.annotations['<key>'], spec.nodeName, spec.serviceAccountName, status.hostIP(s) or status.podIP(s)"
		}
	}
	for _, f := range s.EnvFrom {
		if (f.Secret == "") == (f.ConfigMap == "") {
			d := c.report(ruleEnv, f.Path, "envFrom entry names %s", map[bool]string{true: "neither a Secret nor a ConfigMap", false: "both a Secret and a ConfigMap"}[f.Secret == ""])
			d.Expected = `one of {secret: "<name>"} or {configMap: "<name>"}, with an optional prefix`
		}
		if f.Prefix != "" && !envNameRE.MatchString(f.Prefix) {
			d := c.report(ruleName, f.Path.Field("prefix"), "invalid environment variable prefix %q", f.Prefix)
			d.Expected = "letters, digits, '_', '-' and '.', not starting with a digit"
		}
	}
}
