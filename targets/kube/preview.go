package kube

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
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
	if t := p.Test; t != nil && plan.Namespace != "" {
		// The test pipeline's pods, in the CI namespace, reach the
		// preview's services.
		objs = append(objs, targets.New(Name, &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: meta("allow-preview-tests", "", targets.WavePolicy, map[string]string{targets.LabelEnvironment: env.Name, previewLabel: p.Name}),
			Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": plan.Namespace}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{LabelPipeline: t.Pipeline}},
				}}}},
			},
		}, t.Path, dir))
		objs = append(objs, previewTestEgress(plan, p)...)
	}
	return objs
}

// previewTestEgress lets, in the CI namespace when an environment with
// default deny holds it, the test pipeline's pods reach the previews'
// namespaces and the wait Job's pods the Kubernetes API.
func previewTestEgress(plan *model.Plan, p *model.Preview) []targets.Object {
	i := slices.IndexFunc(plan.Environments, func(e *model.Environment) bool {
		return e.Namespace == plan.Namespace && e.Cluster == model.InCluster && e.Network.DefaultDeny
	})
	if i < 0 {
		return nil
	}
	ci := plan.Environments[i]
	labels := map[string]string{targets.LabelEnvironment: ci.Name, previewLabel: p.Name}
	egress := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	objs := []targets.Object{targets.New(Name, &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: meta("allow-"+p.Name+"-preview-tests", ci.Namespace, targets.WavePolicy, labels),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelPipeline: p.Test.Pipeline}},
			PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{previewLabel: p.Name}},
			}}}},
		},
	}, p.Test.Path, targets.EnvDir(ci.Name))}
	if api := ci.Network.KubernetesAPI; api != nil {
		objs = append(objs, targets.New(Name, &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: meta("allow-"+p.Name+"-preview-wait", ci.Namespace, targets.WavePolicy, labels),
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{targets.LabelPreviewWait: p.Name}},
				PolicyTypes: egress,
				Egress:      []networkingv1.NetworkPolicyEgressRule{egressRule(api)},
			},
		}, p.Test.Path, targets.EnvDir(ci.Name)))
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
