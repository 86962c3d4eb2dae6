package compiler

import "github.com/pipec/pipec/model"

// decodeDelivery reads the GitOps engine (delivery, flux and each
// environment's delivery.engine) into plan, once the environments are
// decoded: an environment without an engine of its own gets the
// configuration's.
func decodeDelivery(t tree, plan *model.Plan) {
	dl := t.field("delivery")
	plan.Delivery = model.Delivery{Engine: dl.field("engine").str(), Path: dl.path}
	f := t.field("flux")
	plan.Flux = model.Flux{
		Namespace: f.field("namespace").str(),
		Interval:  f.field("interval").str(),
		Timeout:   f.field("timeout").str(),
		Path:      f.path,
	}
	for _, e := range plan.Environments {
		if e.Engine == "" {
			e.Engine = plan.Delivery.Engine
		}
	}
}

// environmentEngine is the engine an environment chooses itself, or "".
func environmentEngine(n node) string {
	if e := n.field("delivery").field("engine"); e.exists() {
		return e.str()
	}
	return ""
}
