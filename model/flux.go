package model

// The GitOps engines pipec emits delivery objects for.
const (
	EngineArgoCD = "argocd"
	EngineFlux   = "flux"
)

// Delivery is the configuration's choice of GitOps engine.
type Delivery struct {
	// Engine is the default engine of the environments: EngineArgoCD or
	// EngineFlux.
	Engine string
	Path   Path
}

// Flux is where Flux runs and how it reconciles.
type Flux struct {
	Namespace string
	Interval  string
	Timeout   string
	Path      Path
}

// FluxDelivered reports whether Flux delivers the environment.
func (e *Environment) FluxDelivered() bool { return e.Engine == EngineFlux }

// FluxEnvironments are the environments Flux delivers, in promotion order.
func (p *Plan) FluxEnvironments() []*Environment {
	var out []*Environment
	for _, e := range p.Environments {
		if e.FluxDelivered() {
			out = append(out, e)
		}
	}
	return out
}

// FirstDeployment returns the app's deployment to the environment earliest
// in promotion order: one not promoted from another environment the app is
// deployed to; by name among several. image.fromPipeline deploys there.
func (p *Plan) FirstDeployment(a *App) *Deployment {
	deployed := map[string]bool{}
	for _, d := range a.Deployments {
		deployed[d.Environment] = true
	}
	var first *Deployment
	for _, d := range a.Deployments {
		env := p.Environment(d.Environment)
		if env == nil || (env.Promotion != nil && deployed[env.Promotion.From]) {
			continue
		}
		if first == nil || d.Environment < first.Environment {
			first = d
		}
	}
	return first
}
