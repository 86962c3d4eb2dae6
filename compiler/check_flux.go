package compiler

import (
	"slices"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// checkFlux checks what Flux cannot deliver as Argo CD would. The other
// delivery checks (destinations inside the team's environments, promotion
// order, quota fit, immutable images) read the plan, not the engine, and
// hold for both.
func (c *checker) checkFlux() {
	if c.plan.Delivery.Engine == model.EngineFlux || len(c.plan.FluxEnvironments()) > 0 {
		// The schema admits Flux's duration syntax; Flux needs a
		// duration Go holds, above zero.
		c.checkDuration(c.plan.Flux.Path.Field("interval"), c.plan.Flux.Interval)
		c.checkDuration(c.plan.Flux.Path.Field("timeout"), c.plan.Flux.Timeout)
	}
	c.checkEngineNamespaces()
	if envs := c.plan.FluxEnvironments(); len(envs) > 0 && c.plan.ArgoCD.GitOps == nil {
		at := c.plan.Delivery.Path.Field("engine")
		if c.plan.Delivery.Engine != model.EngineFlux {
			at = envs[0].Path.Field("delivery").Field("engine")
		}
		d := c.report(ruleFluxGitOps, at, "Flux delivers environment %s, but without argocd.gitops pipec emits no GitRepository of its output and no Kustomization per environment: nothing applies %s", envs[0].Name, targets.EnvDir(envs[0].Name))
		d.Hint = ruleFluxGitOps.Fix
	}
	for _, e := range c.plan.FluxEnvironments() {
		if e.Cluster != model.InCluster {
			d := c.report(ruleFluxCluster, e.Path.Field("cluster"), "environment %s is on %s, but Flux reconciles the cluster it runs in", e.Name, e.Cluster)
			d.Expected = `cluster: "` + model.InCluster + `" for an environment Flux delivers`
			d.Hint = ruleFluxCluster.Fix
		}
		if len(e.SyncWindows) > 0 {
			d := c.report(ruleFluxNotMapped, e.Path.Field("syncWindows"), "environment %s has sync windows, which Flux does not have: Flux applies changes whenever it reconciles", e.Name)
			d.Hint = "production environments Flux delivers are suspended until a person promotes them; drop syncWindows, or deliver the environment with Argo CD"
		}
	}
	for _, t := range c.plan.Teams {
		if len(t.ClusterResources) == 0 {
			continue
		}
		for _, name := range t.Environments {
			if env := c.plan.Environment(name); env != nil && env.FluxDelivered() {
				d := c.report(ruleFluxTeam, t.ClusterResources[0].Path, "team %s may create cluster-scoped %s, but Flux delivers its environment %s as a ServiceAccount with rights in the environment's namespace only", t.Name, t.ClusterResources[0].Kind, name)
				d.Hint = ruleFluxTeam.Fix
				break
			}
		}
	}
	for _, a := range c.plan.Apps {
		for _, dep := range a.Deployments {
			env := c.plan.Environment(dep.Environment)
			p := dep.Path.Field("sync").Field("selfHeal")
			if env != nil && env.FluxDelivered() && !dep.Sync.SelfHeal && dep.Sync.Automated && c.src.Has(p) {
				d := c.report(ruleFluxNotMapped, p, "Flux always corrects drift in what it applies: selfHeal: false has no effect")
				d.Hint = "drop selfHeal, or suspend the deployment (sync: automated: false) to leave what runs alone"
			}
		}
	}
}

// checkEngineNamespaces refuses an environment in the namespace of the
// GitOps engine that reconciles the cluster, and an app deployed to the
// CI namespace. An environment's namespace gets the team's Role (pods,
// secrets, service accounts: a pod running as kustomize-controller or
// argocd-application-controller, which may change anything), and its
// default-deny network policy and quota, which would stop the engine
// itself. An app's team in the CI namespace may read the pipelines'
// Secrets (registry push credentials, signing keys) and run pods with
// them: refused rather than warned, as nothing an app needs requires it.
func (c *checker) checkEngineNamespaces() {
	p := c.plan
	usesFlux := p.Delivery.Engine == model.EngineFlux || len(p.FluxEnvironments()) > 0
	usesArgo := slices.ContainsFunc(p.Environments, func(e *model.Environment) bool { return !e.FluxDelivered() })
	for _, e := range envsByName(p) {
		if e.Cluster != model.InCluster {
			continue
		}
		switch {
		case usesFlux && e.Namespace == p.Flux.Namespace:
			d := c.report(ruleNamespace, e.Path.Field("namespace"), "environment %q uses Flux's own namespace %q: its team's rights and guard rails would reach Flux's controllers", e.Name, e.Namespace)
			d.Expected = "a namespace of its own, not flux.namespace"
			d.Hint = "pick a new name for the environment's namespace"
		case usesArgo && p.ArgoCD.Namespace != "" && e.Namespace == p.ArgoCD.Namespace:
			d := c.report(ruleNamespace, e.Path.Field("namespace"), "environment %q uses Argo CD's own namespace %q: its team's rights and guard rails would reach Argo CD's controllers", e.Name, e.Namespace)
			d.Expected = "a namespace of its own, not argocd.namespace"
			d.Hint = "pick a new name for the environment's namespace"
		}
	}
	if p.Namespace == "" {
		return
	}
	for _, a := range p.Apps {
		for _, dep := range a.Deployments {
			if env := p.Environment(dep.Environment); env != nil && env.Cluster == model.InCluster && env.Namespace == p.Namespace {
				d := c.report(ruleNamespace, dep.Path, "app %q deploys to %q, the CI namespace %q: team %q would reach the pipelines' Secrets (push credentials, signing keys) and could run pods with them", a.Name, dep.Environment, p.Namespace, a.Team)
				d.Expected = "an environment whose namespace is not the CI namespace"
				d.Hint = "deploy the app to an environment of its own"
			}
		}
	}
}
