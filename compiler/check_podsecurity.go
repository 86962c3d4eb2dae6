package compiler

import (
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// psaEvaluator is Kubernetes' own Pod Security admission checker, built on
// first use: most builds have no environment to check against.
var psaEvaluator = sync.OnceValue(func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		panic(err) // the upstream default checks are always valid
	}
	return e
})

// checkPodSecurity evaluates every step that runs in the pipelines'
// namespace against the Pod Security level that namespace's environment
// enforces, with the same code as the API server's admission: a step the
// cluster would reject fails the build, positioned at the step.
func (c *checker) checkPodSecurity() {
	p := c.plan
	if p.Namespace == "" {
		return
	}
	env := p.EnvironmentForNamespace(p.Namespace)
	if env == nil {
		return
	}
	level, err := psaapi.ParseLevel(env.PodSecurity)
	if err != nil || level == psaapi.LevelPrivileged {
		return
	}
	lv := psaapi.LevelVersion{Level: level, Version: psaapi.LatestVersion()}
	seen := map[model.Path]bool{}
	for _, pl := range p.Pipelines {
		for _, t := range append(append([]*model.PipelineTask{}, pl.Tasks...), pl.Finally...) {
			def := c.plan.Definition(t)
			if def == nil || seen[def.Path] {
				continue
			}
			seen[def.Path] = true
			for _, s := range def.Containers() {
				if s.Ref != nil {
					continue // its security context is its StepAction's (checkStepRef)
				}
				what := "step"
				if s.Sidecar {
					what = "sidecar"
				}
				for _, r := range psaEvaluator().EvaluatePod(lv, &metav1.ObjectMeta{}, podOf(s)) {
					if r.Allowed {
						continue
					}
					d := c.report(rulePodSec, s.Path, "%s %q of task %q breaks Pod Security %q, which environment %q enforces in namespace %q: %s",
						what, s.Name, def.Name, env.PodSecurity, env.Name, env.Namespace, reason(r))
					d.Expected = fmt.Sprintf("a %s the namespace admits: %s", what, fixFor(r.ForbiddenReason))
					d.Hint = fmt.Sprintf("change the %s's securityContext, or relax environments.%s.podSecurity if the %s really needs it", what, env.Name, what)
				}
			}
			// Each volume on its own, so that a finding is at the volume.
			for _, v := range def.Volumes {
				vol, err := targets.Volume(v)
				if err != nil || len(v.Kinds()) != 1 {
					continue // checkVolumes says why
				}
				for _, r := range psaEvaluator().EvaluatePod(lv, &metav1.ObjectMeta{}, &corev1.PodSpec{Volumes: []corev1.Volume{vol}}) {
					if r.Allowed {
						continue
					}
					d := c.report(rulePodSec, v.Path, "volume %q of task %q breaks Pod Security %q, which environment %q enforces in namespace %q: %s",
						v.Name, def.Name, env.PodSecurity, env.Name, env.Namespace, reason(r))
					d.Expected = "a volume the namespace admits: " + fixFor(r.ForbiddenReason)
					d.Hint = fmt.Sprintf("use a workspace or an emptyDir, or relax environments.%s.podSecurity if the task really needs it", env.Name)
				}
			}
		}
	}
}

func reason(r policy.CheckResult) string {
	if r.ForbiddenDetail == "" {
		return r.ForbiddenReason
	}
	// The detail names the synthetic container; the step is already named.
	detail := r.ForbiddenDetail
	if i := strings.Index(detail, " must "); i >= 0 && strings.HasPrefix(detail, "container") {
		detail = "must" + detail[i+len(" must"):]
	}
	return r.ForbiddenReason + " (" + detail + ")"
}

// fixFor says what would satisfy a Pod Security check.
func fixFor(forbiddenReason string) string {
	switch {
	case strings.Contains(forbiddenReason, "runAsNonRoot"):
		return "securityContext.runAsNonRoot: true (the default)"
	case strings.Contains(forbiddenReason, "runAsUser"):
		return "a non-zero securityContext.runAsUser"
	case strings.Contains(forbiddenReason, "allowPrivilegeEscalation"):
		return "securityContext.allowPrivilegeEscalation: false (the default)"
	case strings.Contains(forbiddenReason, "capabilities"):
		return `capabilities: drop: ["ALL"], adding at most NET_BIND_SERVICE`
	case strings.Contains(forbiddenReason, "privileged"):
		return "no privileged: true"
	case strings.Contains(forbiddenReason, "seccomp"):
		return `seccompProfile: "RuntimeDefault" (the default)`
	case strings.Contains(forbiddenReason, "hostPath"):
		return "no hostPath volume"
	case strings.Contains(forbiddenReason, "volume types"):
		return "emptyDir, secret, configMap, projected, csi or persistentVolumeClaim volumes"
	}
	return "the level's requirements"
}

// podOf is a one-container pod holding a step, as Pod Security sees it.
func podOf(s *model.Step) *corev1.PodSpec {
	sc := s.SecurityContext
	csc := &corev1.SecurityContext{
		RunAsNonRoot:             sc.RunAsNonRoot,
		RunAsUser:                sc.RunAsUser,
		RunAsGroup:               sc.RunAsGroup,
		AllowPrivilegeEscalation: sc.AllowPrivilegeEscalation,
		Privileged:               sc.Privileged,
		ReadOnlyRootFilesystem:   sc.ReadOnlyRootFilesystem,
	}
	if sc.SeccompProfile != "" {
		csc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileType(sc.SeccompProfile)}
		if sc.SeccompProfile == "Localhost" {
			p := sc.SeccompLocalhostProfile
			csc.SeccompProfile.LocalhostProfile = &p
		}
	}
	if sc.CapabilitiesAdd != nil || sc.CapabilitiesDrop != nil {
		csc.Capabilities = &corev1.Capabilities{}
		for _, c := range sc.CapabilitiesAdd {
			csc.Capabilities.Add = append(csc.Capabilities.Add, corev1.Capability(c))
		}
		for _, c := range sc.CapabilitiesDrop {
			csc.Capabilities.Drop = append(csc.Capabilities.Drop, corev1.Capability(c))
		}
	}
	return &corev1.PodSpec{Containers: []corev1.Container{{Name: s.Name, Image: s.Image, SecurityContext: csc}}}
}
