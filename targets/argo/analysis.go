package argo

import (
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// Labels of the AnalysisTemplates.
const (
	LabelObjective = "pipec.dev/objective"
	LabelTest      = "pipec.dev/test"
)

// TemplateName is the name of the AnalysisTemplate of an app's objective
// or test.
func TemplateName(app, name string) string { return app + "-" + name }

// testSecurityContext is what a test Job's container runs with: what Pod
// Security "restricted" requires, which the environments' namespaces
// enforce by default.
var testSecurityContext = map[string]any{
	"runAsNonRoot":             true,
	"runAsUser":                int64(65532),
	"runAsGroup":               int64(65532),
	"allowPrivilegeEscalation": false,
	"capabilities":             map[string]any{"drop": []any{"ALL"}},
	"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
}

// analysisTemplates are the AnalysisTemplates of the objectives and tests
// a deployment's strategy runs: one metric each, the Prometheus provider
// for an objective, the Job provider for a test.
func analysisTemplates(plan *model.Plan, a *model.App, dep *model.Deployment, env *model.Environment) []targets.Object {
	an := dep.ResolveAnalyses()
	used := an.Used()
	var objs []targets.Object
	template := func(name, kindLabel string, metric map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": RolloutsAPIVersion,
			"kind":       "AnalysisTemplate",
			"metadata": map[string]any{
				"name":      TemplateName(a.Name, name),
				"namespace": env.Namespace,
				"labels": map[string]any{
					targets.LabelManagedBy: targets.ManagedBy, LabelApp: a.Name, targets.LabelEnvironment: env.Name, kindLabel: name,
				},
				"annotations": map[string]any{targets.AnnotationSyncWave: strconv.Itoa(targets.WaveWorkload - 1)},
			},
			"spec": map[string]any{"metrics": []any{metric}},
		}}
	}
	for _, o := range dep.Objectives {
		if !used[o.Name] {
			continue
		}
		t := dep.ObjectiveTiming(o, an)
		q := model.ObjectiveQuery(a, env.Name, env.Namespace, o)
		m := map[string]any{
			"name":              o.Name,
			"interval":          duration(o.Interval, t.Interval),
			"failureLimit":      t.FailureLimit,
			"inconclusiveLimit": t.InconclusiveLimit,
			"successCondition":  q.SuccessCondition,
			"provider": map[string]any{"prometheus": map[string]any{
				"address": plan.Analysis.PrometheusAddress, "query": q.PromQL,
			}},
		}
		if t.Count > 0 {
			m["count"] = t.Count
		}
		if t.InitialDelay > 0 {
			m["initialDelay"] = duration(o.InitialDelay, t.InitialDelay)
		}
		setIf(m, "failureCondition", q.FailureCondition)
		objs = append(objs, targets.New(Name, template(o.Name, LabelObjective, m), o.Path, targets.EnvDir(env.Name)))
	}
	// The test Jobs' images are those model.Plan.PlacedImages lists,
	// which the admission policies admit.
	for _, tj := range dep.RunTests() {
		c := map[string]any{"name": "test", "image": tj.Image, "securityContext": testSecurityContext}
		if tj.Command != nil {
			c["command"] = strs(tj.Command)
		}
		if len(tj.Args) > 0 {
			c["args"] = strs(tj.Args)
		}
		if len(tj.Env) > 0 {
			var env []any
			for _, k := range sortedKeys(tj.Env) {
				env = append(env, map[string]any{"name": k, "value": tj.Env[k]})
			}
			c["env"] = env
		}
		spec := map[string]any{
			"backoffLimit": tj.Retries,
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{LabelApp: a.Name, LabelTest: tj.Name}},
				"spec": map[string]any{
					"restartPolicy":                "Never",
					"automountServiceAccountToken": false,
					"containers":                   []any{c},
				},
			},
		}
		if d, err := time.ParseDuration(tj.Timeout); err == nil && d > 0 {
			spec["activeDeadlineSeconds"] = int64((d + time.Second - 1) / time.Second)
		}
		m := map[string]any{
			"name":         tj.Name,
			"failureLimit": int64(0),
			"provider":     map[string]any{"job": map[string]any{"spec": spec}},
		}
		objs = append(objs, targets.New(Name, template(tj.Name, LabelTest, m), tj.Path, targets.EnvDir(env.Name)))
	}
	return objs
}

// duration is what the user wrote, else d as model.FormatDuration writes
// it.
func duration(set string, d time.Duration) string {
	if set != "" {
		return set
	}
	return model.FormatDuration(d)
}

func strs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
