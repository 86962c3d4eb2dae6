package compiler

import (
	"fmt"
	"path"
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
			d := c.errorf(v.Path, "volume %q has no source", v.Name)
			d.Expected = "one of emptyDir, secret, configMap, projected, csi, persistentVolumeClaim or hostPath"
			d.Hint = `for scratch space: emptyDir: {}`
			continue
		case 1:
		default:
			d := c.errorf(v.Path, "volume %q sets %d sources: %s", v.Name, len(kinds), strings.Join(kinds, ", "))
			d.Expected = "exactly one source"
			d.Hint = "split it into one volume per source, or use projected to combine Secrets and ConfigMaps"
			continue
		}
		if _, err := targets.Volume(v); err != nil {
			d := c.errorf(v.Path, "volume %q does not convert to a Kubernetes volume: %v", v.Name, err)
			d.Expected = "a volume source in Kubernetes' fields"
		}
	}
	for _, s := range t.Sidecars {
		if _, err := targets.Probe(s.ReadinessProbe); err != nil {
			d := c.errorf(s.Path.Field("readinessProbe"), "the readiness probe of sidecar %q does not convert to a Kubernetes probe: %v", s.Name, err)
			d.Expected = "a probe in Kubernetes' fields"
		}
		if p := s.ReadinessProbe; p != nil {
			n := 0
			for _, k := range []string{"exec", "tcpSocket", "httpGet"} {
				if _, ok := p[k]; ok {
					n++
				}
			}
			if n != 1 {
				d := c.errorf(s.Path.Field("readinessProbe"), "the readiness probe of sidecar %q sets %d handlers", s.Name, n)
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
			d := c.errorf(m.Path.Field("name"), "%s %q mounts unknown volume %q", what, s.Name, m.Name)
			d.Expected = "a volume of the task: " + diag.OneOf(names)
			if sug := diag.Suggest(m.Name, names); sug != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", sug)
			} else {
				d.Hint = fmt.Sprintf("declare it: volumes: %q: {emptyDir: {}}; a workspace is mounted without volumeMounts, at $(workspaces.<name>.path)", m.Name)
			}
		}
		switch {
		case !strings.HasPrefix(m.MountPath, "/") && !strings.Contains(m.MountPath, "$("):
			d := c.errorf(m.Path.Field("mountPath"), "mount path %q is not absolute", m.MountPath)
			d.Expected = "an absolute path such as /var/lib/data"
		case at[path.Clean(m.MountPath)]:
			d := c.errorf(m.Path.Field("mountPath"), "%s %q mounts two volumes at %s", what, s.Name, m.MountPath)
			d.Expected = "one mount per path in a container"
		}
		at[path.Clean(m.MountPath)] = true
		if m.SubPath != "" && (path.IsAbs(m.SubPath) || strings.HasPrefix(path.Clean(m.SubPath), "..")) {
			d := c.errorf(m.Path.Field("subPath"), "sub-path %q leaves the volume", m.SubPath)
			d.Expected = "a relative path inside the volume, without .."
		}
	}
}
