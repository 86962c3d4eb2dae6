package compiler

import (
	"github.com/pipec/pipec/model"
)

func (d *decoder) triggers(n node) model.Triggers {
	t := model.Triggers{Provider: n.field("provider").str(), Path: n.path}
	keyRef := func(f node) *model.KeyRef {
		if !f.exists() {
			return nil
		}
		return &model.KeyRef{Name: f.field("name").str(), Key: f.field("key").str()}
	}
	t.InterceptorsNamespace = n.field("interceptorsNamespace").str()
	t.WebhookSecret = keyRef(n.field("webhookSecret"))
	t.GitHubToken = keyRef(n.field("githubToken"))
	l := n.field("listener")
	t.Replicas = int32(l.field("replicas").int())
	t.ServiceType = l.field("serviceType").str()
	t.IngressNamespaces = l.field("ingressFrom").field("namespaces").strs()
	t.IngressCIDRs = l.field("ingressFrom").field("cidrs").strs()
	t.Resources = decodeResources(l.field("resources"))
	return t
}

func (d *decoder) on(n node) *model.On {
	if !n.exists() {
		return nil
	}
	o := &model.On{
		Provider: n.field("provider").str(),
		Tags:     n.field("tags").strs(),
		Filter:   n.field("filter").str(),
		Timeout:  n.field("timeout").str(),
		Path:     n.path,
	}
	if p := n.field("push"); p.exists() {
		o.Push = &model.BranchFilter{Branches: p.field("branches").strs(), Paths: p.field("paths").strs(), Path: p.path}
	}
	if p := n.field("pullRequest"); p.exists() {
		o.PullRequest = &model.PullRequestFilter{
			Branches: p.field("branches").strs(), Events: p.field("events").strs(), Paths: p.field("paths").strs(),
			Forks: p.field("forks").str(), Path: p.path,
		}
	}
	n.field("params").fields(func(name string, c node) {
		o.Params = append(o.Params, &model.Arg{Name: name, Value: model.Value{Type: model.TypeString, String: c.str()}, Path: c.path})
	})
	n.field("workspaces").fields(func(name string, c node) {
		w := &model.RunWorkspace{Name: name, Path: c.path}
		switch {
		case c.field("volumeClaimTemplate").exists():
			v := c.field("volumeClaimTemplate")
			w.VolumeClaimTemplate = &model.VolumeClaimTemplate{
				Storage: v.field("storage").quantity(), StorageClassName: v.field("storageClassName").str(), AccessModes: v.field("accessModes").strs(),
			}
		case c.field("secret").exists():
			w.Secret = c.field("secret").str()
		case c.field("configMap").exists():
			w.ConfigMap = c.field("configMap").str()
		case c.field("emptyDir").exists():
			w.EmptyDir = true
		}
		o.Workspaces = append(o.Workspaces, w)
	})
	pt := n.field("podTemplate")
	o.PodTemplate.NodeSelector = pt.field("nodeSelector").stringMap()
	pt.field("tolerations").list(func(_ int, c node) {
		o.PodTemplate.Tolerations = append(o.PodTemplate.Tolerations, model.Toleration{
			Key: c.field("key").str(), Operator: c.field("operator").str(), Value: c.field("value").str(), Effect: c.field("effect").str(),
		})
	})
	return o
}
