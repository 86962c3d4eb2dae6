package compiler

import (
	"github.com/pipec/pipec/model"
)

// preview decodes a previews entry. Its quota falls back to its
// environment's in resolvePreviews, once environments are decoded.
func (d *decoder) preview(name string, n node) *model.Preview {
	p := &model.Preview{
		Name:        name,
		Team:        n.field("team").str(),
		Environment: n.field("environment").str(),
		MaxOpen:     int(n.field("maxOpen").int()),
		NodePool:    n.field("nodePool").str(),
		Path:        n.path,
	}
	if q := n.field("quota"); q.exists() {
		p.Quota = decodeQuota(q)
	}
	pr := n.field("pullRequests")
	p.PullRequests = model.PreviewPullRequests{
		Provider:            pr.field("provider").str(),
		Repository:          pr.field("repository").str(),
		API:                 pr.field("api").str(),
		Token:               model.KeyRef{Name: pr.field("token").field("name").str(), Key: pr.field("token").field("key").str()},
		Labels:              pr.field("labels").strs(),
		RequeueAfterSeconds: pr.field("requeueAfterSeconds").int(),
		Path:                pr.path,
	}
	n.field("apps").fields(func(app string, c node) {
		pa := &model.PreviewApp{App: app, Path: c.path}
		if b := c.field("build"); b.exists() {
			pa.Build = &model.PreviewBuild{
				Pipeline:       b.field("pipeline").str(),
				Result:         b.field("result").str(),
				GitCredentials: b.field("gitCredentials").str(),
				Path:           b.path,
			}
		}
		p.Apps = append(p.Apps, pa)
	})
	if t := n.field("test"); t.exists() {
		p.Test = &model.PreviewTest{
			Pipeline:    t.field("pipeline").str(),
			Params:      map[string]string{},
			StatusToken: model.KeyRef{Name: t.field("statusToken").field("name").str(), Key: t.field("statusToken").field("key").str()},
			Context:     t.field("context").str(),
			Path:        t.path,
		}
		t.field("params").fields(func(name string, v node) { p.Test.Params[name] = v.str() })
	}
	return p
}

// resolvePreviews gives each preview without a quota of its own its
// environment's.
func resolvePreviews(plan *model.Plan) {
	for _, p := range plan.Previews {
		if p.Quota == nil {
			if env := plan.Environment(p.Environment); env != nil {
				p.Quota = env.Quota
			}
		}
	}
}
