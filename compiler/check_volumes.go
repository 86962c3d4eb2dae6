package compiler

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// checkVolumes checks a task's volumes: each sets one source, in a form
// Kubernetes' type holds, under a valid name. Which sources the namespace
// admits is Pod Security's to say (checkPodSecurity).
func (c *checker) checkVolumes(t *model.TaskDef) {
	for _, v := range t.Volumes {
		c.checkName(v.Path, v.Name, "volume")
		switch kinds := v.Kinds(); len(kinds) {
		case 0:
			d := c.report(ruleVolume, v.Path, "volume %q has no source", v.Name)
			d.Expected = "one of emptyDir, secret, configMap, projected, csi, persistentVolumeClaim or hostPath"
			d.Hint = `for scratch space: emptyDir: {}`
			continue
		case 1:
		default:
			d := c.report(ruleVolume, v.Path, "volume %q sets %d sources: %s", v.Name, len(kinds), strings.Join(kinds, ", "))
			d.Expected = "exactly one source"
			d.Hint = "split it into one volume per source, or use projected to combine Secrets and ConfigMaps"
			continue
		}
		ed, _ := v.Source["emptyDir"].(map[string]any)
		if l, ok := ed["sizeLimit"]; ok {
			// Kubernetes refuses a negative size; one past 2^63-1 it caps.
			if _, ok := c.quantity(v.Path.Field("emptyDir").Field("sizeLimit"), fmt.Sprint(l), ""); !ok {
				continue
			}
		}
		if _, err := targets.Volume(v); err != nil {
			d := c.report(ruleVolume, v.Path, "volume %q does not convert to a Kubernetes volume: %v", v.Name, err)
			d.Expected = "a volume source in Kubernetes' fields"
			continue
		}
		c.checkVolumeSource(v)
	}
	for _, s := range t.Sidecars {
		if _, err := targets.Probe(s.ReadinessProbe); err != nil {
			d := c.report(ruleProbe, s.Path.Field("readinessProbe"), "the readiness probe of sidecar %q does not convert to a Kubernetes probe: %v", s.Name, err)
			d.Expected = "a probe in Kubernetes' fields"
		}
		if cmd, ok := s.ReadinessProbe["exec"].(map[string]any); ok {
			if l, _ := cmd["command"].([]any); len(l) == 0 {
				d := c.report(ruleProbe, s.Path.Field("readinessProbe").Field("exec").Field("command"), "the readiness probe of sidecar %q runs no command", s.Name)
				d.Expected = `a command such as ["pg_isready"]`
			}
		}
		if p := s.ReadinessProbe; p != nil {
			n := 0
			for _, k := range []string{"exec", "tcpSocket", "httpGet"} {
				if _, ok := p[k]; ok {
					n++
				}
			}
			if n != 1 {
				d := c.report(ruleProbe, s.Path.Field("readinessProbe"), "the readiness probe of sidecar %q sets %d handlers", s.Name, n)
				d.Expected = "exactly one of exec, tcpSocket or httpGet"
			}
		}
	}
}

// checkMounts checks a step's or sidecar's volumeMounts: each names a
// volume of the task, at an absolute path no other mount of the container
// uses.
func (c *checker) checkMounts(t *model.TaskDef, s *model.Step, what string) {
	names := make([]string, len(t.Volumes))
	for i, v := range t.Volumes {
		names[i] = v.Name
	}
	at := map[string]bool{}
	for _, m := range s.VolumeMounts {
		if t.Volume(m.Name) == nil {
			d := c.report(ruleMount, m.Path.Field("name"), "%s %q mounts unknown volume %q", what, s.Name, m.Name)
			d.Expected = "a volume of the task: " + diag.OneOf(names)
			if sug := diag.Suggest(m.Name, names); sug != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", sug)
			} else {
				d.Hint = fmt.Sprintf("declare it: volumes: %q: {emptyDir: {}}; a workspace is mounted without volumeMounts, at $(workspaces.<name>.path)", m.Name)
			}
		}
		switch {
		case !strings.HasPrefix(m.MountPath, "/") && !strings.Contains(m.MountPath, "$("):
			d := c.report(ruleMount, m.Path.Field("mountPath"), "mount path %q is not absolute", m.MountPath)
			d.Expected = "an absolute path such as /var/lib/data"
		case at[path.Clean(m.MountPath)]:
			d := c.report(ruleMount, m.Path.Field("mountPath"), "%s %q mounts two volumes at %s", what, s.Name, m.MountPath)
			d.Expected = "one mount per path in a container"
		}
		at[path.Clean(m.MountPath)] = true
		if m.SubPath != "" && (path.IsAbs(m.SubPath) || strings.HasPrefix(path.Clean(m.SubPath), "..")) {
			d := c.report(ruleMount, m.Path.Field("subPath"), "sub-path %q leaves the volume", m.SubPath)
			d.Expected = "a relative path inside the volume, without .."
		}
	}
}

// checkVolumeSource checks what Kubernetes refuses only when it creates
// the pod: names a source needs, item paths that stay in the volume, one
// kind per projected source.
func (c *checker) checkVolumeSource(v *model.Volume) {
	kind := v.Kinds()[0]
	src, _ := v.Source[kind].(map[string]any)
	at := v.Path.Field(kind)
	need := map[string]string{"secret": "secretName", "configMap": "name", "csi": "driver", "persistentVolumeClaim": "claimName", "hostPath": "path"}[kind]
	if need != "" {
		if s, _ := src[need].(string); s == "" {
			d := c.report(ruleVolume, at.Field(need), "volume %q has an empty %s", v.Name, need)
			d.Expected = "a " + need + ": Kubernetes refuses the pod without one"
		}
	}
	c.checkItems(at, src)
	if kind != "projected" {
		return
	}
	sources, _ := src["sources"].([]any)
	for i, e := range sources {
		m, _ := e.(map[string]any)
		p := at.Field("sources").Index(i)
		if len(m) != 1 {
			d := c.report(ruleVolume, p, "projected source %d of volume %q sets %d kinds", i, v.Name, len(m))
			d.Expected = "exactly one of secret, configMap, serviceAccountToken or downwardAPI per source"
			d.Hint = "split it into one source per kind"
		}
		for k, inner := range m {
			im, _ := inner.(map[string]any)
			if k == "secret" || k == "configMap" {
				if s, _ := im["name"].(string); s == "" {
					d := c.report(ruleVolume, p.Field(k).Field("name"), "projected %s of volume %q has an empty name", k, v.Name)
					d.Expected = "the name of the " + k
				}
			}
			c.checkItems(p.Field(k), im)
		}
	}
}

// checkItems checks the paths of a source's items: relative, inside the
// volume (Kubernetes' validateLocalDescendingPath).
func (c *checker) checkItems(at model.Path, src map[string]any) {
	items, _ := src["items"].([]any)
	for i, e := range items {
		m, _ := e.(map[string]any)
		p, _ := m["path"].(string)
		if p == "" || path.IsAbs(p) || slices.Contains(strings.Split(p, "/"), "..") {
			d := c.report(ruleVolume, at.Field("items").Index(i).Field("path"), "item path %q leaves the volume", p)
			d.Expected = "a relative path inside the volume, without .."
		}
	}
}
