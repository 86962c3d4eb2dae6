// Package kube is pipec's Kubernetes target: for every environment it emits
// the Namespace (with Pod Security labels), ResourceQuota, LimitRange,
// NetworkPolicies (default deny, then explicit allows) and the RBAC that
// pipelines were granted there; for every pipeline, the ServiceAccount it
// runs as (and, when it runs pull requests from forks untrusted, the one
// those runs use); for every preview environment, the guard rails each of
// its pull requests' namespaces gets. Objects carry Argo CD sync waves so that namespaces,
// quotas and RBAC land before workloads.
package kube

import (
	"context"

	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// Name of the target.
const Name = "kube"

// LabelPipeline is the label Tekton puts on the pods of a pipeline's runs;
// network policies select pipeline pods by it.
const LabelPipeline = "tekton.dev/pipeline"

// Target is the Kubernetes target.
type Target struct{}

// New returns the Kubernetes target.
func New() Target { return Target{} }

// Name implements targets.Target.
func (Target) Name() string { return Name }

// Kinds implements targets.Target: everything the target generates is a
// targets.Foundation kind.
func (Target) Kinds() []string { return nil }

// Generate implements targets.Target.
func (Target) Generate(_ context.Context, plan *model.Plan) ([]targets.Object, diag.List) {
	var objs []targets.Object
	for _, env := range plan.Environments {
		objs = append(objs, environment(plan, env)...)
	}
	for _, p := range plan.Pipelines {
		objs = append(objs, pipelineRBAC(plan, p)...)
	}
	for _, p := range plan.Previews {
		objs = append(objs, previewRails(plan, p)...)
	}
	return objs, nil
}

func meta(name, ns string, wave int, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: targets.Labels(labels), Annotations: targets.SyncWave(wave)}
}

func quantities(m map[string]string, prefix string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range m {
		if q, err := resource.ParseQuantity(v); err == nil {
			out[corev1.ResourceName(prefix+k)] = q
		}
	}
	return out
}

func environment(plan *model.Plan, env *model.Environment) []targets.Object {
	ns := env.Namespace
	envLabel := map[string]string{targets.LabelEnvironment: env.Name}
	var objs []targets.Object

	nsLabels := targets.PodSecurityLabels(env.PodSecurity)
	nsLabels[targets.LabelEnvironment] = env.Name
	for k, v := range env.Labels {
		nsLabels[k] = v
	}
	namespace := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: meta(ns, "", targets.WaveNamespace, nsLabels),
	}
	dir := targets.EnvDir(env.Name)
	objs = append(objs, targets.New(Name, namespace, env.Path, dir))

	if q := env.Quota; q != nil {
		objs = append(objs, targets.New(Name, resourceQuota(q, ns, envLabel), q.Path, dir))
	}
	lr := limitRange(env, envLabel)
	objs = append(objs, targets.New(Name, lr, env.Limits.Path, dir))

	for _, np := range networkPolicies(plan, env) {
		objs = append(objs, targets.New(Name, np, env.Network.Path, dir))
	}

	// RBAC granted to pipelines in this environment.
	for _, p := range plan.Pipelines {
		var rules []rbacv1.PolicyRule
		var src model.Path
		for _, perm := range p.Permissions {
			if perm.Environment != env.Name {
				continue
			}
			if src == "" {
				src = perm.Path
			}
			rules = append(rules, rbacv1.PolicyRule{
				APIGroups: perm.APIGroups, Resources: perm.Resources, Verbs: perm.Verbs, ResourceNames: perm.ResourceNames,
			})
		}
		if len(rules) == 0 {
			continue
		}
		name := "pipec-pipeline-" + p.Name
		role := &rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta(name, ns, targets.WaveRBAC, envLabel),
			Rules:      rules,
		}
		binding := &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta(name, ns, targets.WaveRBAC, envLabel),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: p.ServiceAccount(), Namespace: plan.Namespace}},
		}
		objs = append(objs, targets.New(Name, role, src, dir), targets.New(Name, binding, src, dir))
	}
	return objs
}

// resourceQuota is the ResourceQuota of q in namespace ns.
func resourceQuota(q *model.Quota, ns string, labels map[string]string) *corev1.ResourceQuota {
	hard := quantities(q.Requests, "requests.")
	for k, v := range quantities(q.Limits, "limits.") {
		hard[k] = v
	}
	count := func(name string, n *int64) {
		if n != nil {
			hard[corev1.ResourceName(name)] = *resource.NewQuantity(*n, resource.DecimalSI)
		}
	}
	count("pods", q.Pods)
	count("persistentvolumeclaims", q.PersistentVolumeClaims)
	count("count/pipelineruns.tekton.dev", q.PipelineRuns)
	count("count/taskruns.tekton.dev", q.TaskRuns)
	if q.Storage != "" {
		if s, err := resource.ParseQuantity(q.Storage); err == nil {
			hard["requests.storage"] = s
		}
	}
	return &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: meta("pipec-quota", ns, targets.WavePolicy, labels),
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}
}

func nilIfEmpty(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return nil
	}
	return l
}

func networkPolicies(plan *model.Plan, env *model.Environment) []*networkingv1.NetworkPolicy {
	ns := env.Namespace
	labels := map[string]string{targets.LabelEnvironment: env.Name}
	np := func(name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: meta(name, ns, targets.WavePolicy, labels),
			Spec:       spec,
		}
	}
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	egress := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	var out []*networkingv1.NetworkPolicy
	if env.Network.DefaultDeny {
		out = append(out, np("default-deny", networkingv1.NetworkPolicySpec{PolicyTypes: both}))
	}
	if env.Network.DNS {
		out = append(out, np("allow-dns", networkingv1.NetworkPolicySpec{
			PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				}},
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, 53), port(corev1.ProtocolTCP, 53)},
			}},
		}))
	}
	if env.Network.SameNamespace {
		out = append(out, np("allow-same-namespace", networkingv1.NetworkPolicySpec{
			PolicyTypes: both,
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
		}))
	}
	for _, r := range env.Network.Egress {
		out = append(out, np("allow-egress-"+r.Name, networkingv1.NetworkPolicySpec{PolicyTypes: egress, Egress: []networkingv1.NetworkPolicyEgressRule{egressRule(r)}}))
	}
	for _, r := range env.Network.Ingress {
		rule := networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: r.FromNamespaces,
			}}},
		}}}
		for _, p := range r.Ports {
			rule.Ports = append(rule.Ports, port(corev1.ProtocolTCP, p))
		}
		out = append(out, np("allow-ingress-"+r.Name, networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, Ingress: []networkingv1.NetworkPolicyIngressRule{rule},
		}))
	}
	// Pipelines that run here and use the Kubernetes API may reach it;
	// nothing else may.
	if api := env.Network.KubernetesAPI; api != nil && plan.Namespace == env.Namespace && env.Cluster == model.InCluster {
		var names []string
		for _, p := range plan.Pipelines {
			if len(p.Permissions) > 0 {
				names = append(names, p.Name)
			}
		}
		slices.Sort(names)
		if len(names) > 0 {
			out = append(out, np("allow-kubernetes-api", networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: LabelPipeline, Operator: metav1.LabelSelectorOpIn, Values: names,
				}}},
				PolicyTypes: egress,
				Egress:      []networkingv1.NetworkPolicyEgressRule{egressRule(api)},
			}))
		}
	}
	if l := listenerPolicy(plan, env); l != nil {
		out = append(out, np("allow-eventlistener", *l))
	}
	return out
}

// Ports of the EventListener's pods and of the core interceptors it calls
// (Tekton Triggers' defaults).
const (
	ListenerPort        = 8080
	ListenerMetricsPort = 9000
	InterceptorsPort    = 8443
)

// interceptorsPods selects the pods of Triggers' core interceptors (the
// labels of Triggers' own Deployment).
var interceptorsPods = map[string]string{"app.kubernetes.io/part-of": "tekton-triggers", "app.kubernetes.io/component": "interceptors"}

// listenerPolicy lets webhooks reach the EventListener, Prometheus scrape
// it, and the listener reach the Kubernetes API, in a CI namespace that
// denies traffic by default.
func listenerPolicy(plan *model.Plan, env *model.Environment) *networkingv1.NetworkPolicySpec {
	if !env.Network.DefaultDeny || plan.Namespace != env.Namespace || !slices.ContainsFunc(plan.Pipelines, func(p *model.Pipeline) bool { return p.On != nil }) {
		return nil
	}
	t := plan.Triggers
	hook := networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, ListenerPort)}}
	if len(t.IngressNamespaces) > 0 {
		hook.From = append(hook.From, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: t.IngressNamespaces,
		}}}})
	}
	for _, c := range t.IngressCIDRs {
		hook.From = append(hook.From, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	spec := &networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"eventlistener": model.ListenerName}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
	}
	if len(hook.From) > 0 {
		spec.Ingress = append(spec.Ingress, hook)
	}
	if m := plan.Monitoring; m != nil {
		spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": m.PrometheusNamespace}}}},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, ListenerMetricsPort)},
		})
	}
	// The listener calls the core interceptors (github, gitlab, cel) on
	// every webhook.
	spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
	spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": t.InterceptorsNamespace}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: interceptorsPods},
		}},
		Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, InterceptorsPort)},
	}}
	if api := env.Network.KubernetesAPI; api != nil {
		spec.Egress = append(spec.Egress, egressRule(api))
	}
	return spec
}

func egressRule(r *model.EgressRule) networkingv1.NetworkPolicyEgressRule {
	var rule networkingv1.NetworkPolicyEgressRule
	for _, c := range r.CIDRs {
		rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	for _, p := range r.Ports {
		rule.Ports = append(rule.Ports, port(corev1.Protocol(r.Protocol), p))
	}
	return rule
}

func port(proto corev1.Protocol, p int32) networkingv1.NetworkPolicyPort {
	v := intstr.FromInt32(p)
	return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &v}
}

// pipelineRBAC is the ServiceAccount a pipeline runs as, and the one its
// runs for pull requests from forks run as. The first has no token unless
// the pipeline has permissions somewhere; the second never has one.
func pipelineRBAC(plan *model.Plan, p *model.Pipeline) []targets.Object {
	automount := len(p.Permissions) > 0
	sa := &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   meta(p.ServiceAccount(), plan.Namespace, targets.WaveRBAC, map[string]string{LabelPipeline: p.Name}),
		AutomountServiceAccountToken: &automount,
	}
	objs := []targets.Object{targets.New(Name, sa, p.Path, targets.CIDir)}
	if p.ForkRuns() {
		// Runs for pull requests from forks execute code anyone can
		// write: their ServiceAccount has no token and is bound to
		// nothing.
		noToken := false
		fork := &corev1.ServiceAccount{
			TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta:                   meta(p.ForkServiceAccount(), plan.Namespace, targets.WaveRBAC, map[string]string{LabelPipeline: p.Name}),
			AutomountServiceAccountToken: &noToken,
		}
		objs = append(objs, targets.New(Name, fork, p.On.PullRequest.Path.Field("forks"), targets.CIDir))
	}
	return objs
}
