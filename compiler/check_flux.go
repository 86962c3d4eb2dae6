package compiler

import (
	"github.com/pipec/pipec/model"
)

// checkFlux checks what Flux cannot deliver as Argo CD would. The other
// delivery checks (destinations inside the team's environments, promotion
// order, quota fit, immutable images) read the plan, not the engine, and
// hold for both.
func (c *checker) checkFlux() {
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
