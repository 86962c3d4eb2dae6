package kube

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// previewRails are the guard rails of every namespace of a preview: the
// quota (the preview's own or its environment's), the limit range and the
// network policies of the environment it inherits from, without the
// environment's Kubernetes API access, its RBAC or a namespace of their
// own. The guard-rails Application of each pull request's preview applies
// them to the preview's namespace, which it creates with the
// environment's Pod Security labels.
func previewRails(plan *model.Plan, p *model.Preview) []targets.Object {
	base := plan.Environment(p.Environment)
	if base == nil || plan.ArgoCD.GitOps == nil {
		return nil
	}
	env := *base
	env.Namespace = ""
	env.Network.KubernetesAPI = nil
	dir := targets.PreviewDir(p.Name)
	labels := map[string]string{targets.LabelEnvironment: env.Name, previewLabel: p.Name}
	var objs []targets.Object
	if q := p.Quota; q != nil {
		objs = append(objs, targets.New(Name, resourceQuota(q, "", labels), p.Path, dir))
	}
	objs = append(objs, targets.New(Name, limitRange(&env, labels), p.Path, dir))
	for _, np := range networkPolicies(plan, &env) {
		np.Labels[previewLabel] = p.Name
		objs = append(objs, targets.New(Name, np, p.Path, dir))
	}
	return objs
}

// previewLabel names the preview a guard rail belongs to.
const previewLabel = "pipec.dev/preview"

func limitRange(env *model.Environment, labels map[string]string) *corev1.LimitRange {
	return &corev1.LimitRange{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: meta("pipec-defaults", env.Namespace, targets.WavePolicy, labels),
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Default:        quantities(env.Limits.Default, ""),
			DefaultRequest: quantities(env.Limits.DefaultRequest, ""),
			Max:            nilIfEmpty(quantities(env.Limits.Max, "")),
		}}},
	}
}
