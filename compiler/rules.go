package compiler

import (
	"slices"
	"strings"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/policies"
)

// rules are the classes of finding the compiler reports that are not
// policy checks, each under a stable id. A rule has one severity: only
// warnings and notes can be waived, since an error means an object would
// be invalid.
var rules []diag.Rule

func rule(name string, sev diag.Severity, title, fix string) diag.Rule {
	r := diag.Rule{ID: diag.ConfigPrefix + name, Severity: sev, Title: title, Fix: fix}
	rules = append(rules, r)
	return r
}

// Rules lists the compiler's rules and those of waivers, sorted by id.
func Rules() []diag.Rule {
	out := append(slices.Clone(rules), policies.WaiverRules...)
	slices.SortFunc(out, func(a, b diag.Rule) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// RuleOf finds a rule of Rules by id.
func RuleOf(id string) (diag.Rule, bool) {
	for _, list := range [][]diag.Rule{rules, policies.WaiverRules} {
		if i := slices.IndexFunc(list, func(r diag.Rule) bool { return r.ID == id }); i >= 0 {
			return list[i], true
		}
	}
	return diag.Rule{}, false
}

// Rules of the configuration as a whole and of the validators pipec runs.
var (
	ruleLoad     = rule("load", diag.Error, "The configuration cannot be loaded: no CUE files, or files of several packages", "pass the directory that holds the configuration's .cue files, all of one package")
	ruleSchema   = rule("cue", diag.Error, "The configuration is not valid CUE, or does not fit pipec's schema", "write the value as the finding says: it names what was expected")
	ruleTekton   = rule("tekton", diag.Error, "Tekton's own validation rejects a generated Pipeline or Task", "fix the value at the finding's position; the rule is Tekton's")
	ruleTriggers = rule("triggers", diag.Error, "Tekton Triggers' own validation rejects a generated object", "fix the value at the finding's position; the rule is Tekton Triggers'")
	ruleArgo     = rule("argo", diag.Error, "Argo CD's or Argo Rollouts' validation rejects a generated object", "fix the value at the finding's position; the rule is Argo's")
	ruleFloor    = rule("production-floor", diag.Warning, "A production environment's policy leaves out packs production always runs (restricted, policy.default's, baseline); they check it all the same", "name those packs in its policy, or drop policy; to live with one of their findings, waive that check with a reason and an expiry")
	rulePack     = rule("policy-pack", diag.Error, "A policy pack cannot be loaded or evaluated", "register the pack under its own name, with the fields of a pack; its violations read fields pipec's input has")
	ruleInternal = rule("internal", diag.Error, "pipec generated something it cannot use: a bug in pipec", "report it with the configuration that caused it")
)

// bySource are the rules of findings whose producer names no rule: the
// schema, the loader and the upstream validators the targets run.
var bySource = map[string]diag.Rule{"cue": ruleSchema, "tekton": ruleTekton, "triggers": ruleTriggers, "argo": ruleArgo, "policy": rulePack}

// withRules gives each finding without an id the rule of its source: a
// target pipec does not ship reports under pipec/target/<name>; fallback
// is the rule of the rest.
func withRules(ds diag.List, fallback diag.Rule) diag.List {
	for i := range ds {
		switch r, ok := bySource[ds[i].Source]; {
		case ds[i].ID != "":
		case ok:
			ds[i].ID = r.ID
		case ds[i].Source != "" && ds[i].Source != "pipec":
			ds[i].ID = diag.TargetPrefix + ds[i].Source
		default:
			ds[i].ID = fallback.ID
		}
	}
	return ds
}

// Rules of pipec's semantic checks.
var (
	ruleName       = rule("invalid-name", diag.Error, "A name Kubernetes or Tekton would refuse: an object, parameter, result or variable name", "use lowercase letters, digits and '-' for object names; the finding gives the exact form")
	ruleMetadata   = rule("metadata", diag.Error, "A label or annotation Kubernetes would refuse: a key that is not a qualified name, a label value that is not a label value, or annotations past 256 KiB", "write keys as [prefix/]name (a DNS subdomain prefix, a name of letters, digits, '-', '_' and '.'), and label values of at most 63 such characters")
	ruleDuplicate  = rule("duplicate-name", diag.Error, "Two things that must have different names share one", "rename one of them")
	ruleReference  = rule("unknown-reference", diag.Error, "A reference to something the configuration does not declare: a $(...) variable, a task, a step, a pack", "declare what is referred to, or fix the name (the finding suggests the closest)")
	ruleTask       = rule("task-shape", diag.Error, "A task or step that cannot run as written: no steps, no image, both script and command, uses with steps", "give each task one way to run (uses, steps or ref) and each step an image and a script or command")
	rulePipeline   = rule("pipeline-shape", diag.Error, "A pipeline with no tasks", "add a task")
	ruleDependency = rule("dependency", diag.Error, "Task ordering that cannot hold: a cycle, a task after itself or after an unknown task", "make `after` and result references form a graph without cycles")
	ruleParam      = rule("param", diag.Error, "A parameter passed that the task does not declare, or a required one not passed", "pass exactly the parameters the task declares, each it requires")
	ruleParamType  = rule("param-type", diag.Error, "A parameter or result value of another type than declared (string, array, object)", "make the value's type the declared one, or change the declaration")
	ruleResult     = rule("result", diag.Error, "A result read where it cannot be: a task's own, a finally task's, a pipeline result that refers to no task result", "read results of earlier tasks, and finally results only in the pipeline's results")
	ruleStepResult = rule("step-result", diag.Error, "A step result declared, written or read where Tekton does not allow it", "declare results on the step that writes them; read them in a later step's env, command, args or when, or as a task result's value")
	ruleWhen       = rule("when", diag.Error, "A when expression Tekton would refuse: no input or no values, cel beside input, a CEL expression that does not compile", "give each when expression an input and the values it is compared with, or a CEL expression alone")
	ruleTektonFlag = rule("tekton-feature-flag", diag.Error, "A field that needs a Tekton feature flag the configuration does not say the cluster turns on", "turn the flag on in the cluster's feature-flags ConfigMap, then say so: tekton: featureFlags")
	ruleMatrix     = rule("matrix", diag.Error, "A matrix that cannot fan out: no params, unknown or non-array params, or too many runs", "fan out over declared string parameters, within Tekton's 256 runs")
	ruleWorkspace  = rule("workspace", diag.Error, "A workspace bound that is not declared, or a required one not bound", "bind each workspace the task declares to a pipeline workspace")
	ruleImage      = rule("image", diag.Error, "An image reference that is invalid or not pinned: no tag or digest, or the mutable tag latest", "pin a version tag, or better a digest: ghcr.io/org/tool@sha256:<digest>")
	ruleDuration   = rule("duration", diag.Error, "A duration the component that reads it would refuse or misread: out of its range, or past what Go's time.Duration holds (2562047h47m16s)", "write a duration such as \"30m\" or \"1h\", in range")
	ruleResources  = rule("resources", diag.Error, "Compute requests and limits Kubernetes would refuse: a request above its limit, an extended resource without an equal limit", "request at most the limit; for extended resources set the limit, and a request equal to it")
	ruleQuantity   = rule("quantity", diag.Error, "A quantity that is not a valid non-negative Kubernetes quantity, or is past the 2^63-1 one holds", "write a quantity such as \"500m\", \"2\" or \"1Gi\"")
	ruleSeccomp    = rule("seccomp", diag.Error, "A seccomp profile Kubernetes would refuse: Localhost without its file, a file outside the kubelet's directory", "set seccompLocalhostProfile with seccompProfile \"Localhost\", as a relative path")
	ruleEnv        = rule("env-source", diag.Error, "An environment variable source Kubernetes would refuse: a key reference without name or key, an unknown pod field, envFrom naming none or both", "reference a Secret or ConfigMap key by name and key, or a field Kubernetes offers")
	ruleVolume     = rule("volume", diag.Error, "A volume Kubernetes would refuse: no source or several, empty names, paths leaving the volume", "give each volume one source, as Kubernetes spells it")
	ruleMount      = rule("volume-mount", diag.Error, "A mount of an unknown volume, at a relative or shared path, or with a sub-path leaving the volume", "mount volumes of the task at absolute paths of their own")
	ruleProbe      = rule("sidecar-probe", diag.Error, "A sidecar readiness probe Kubernetes would refuse: no handler or several, or an empty command", "set one handler: exec, httpGet or tcpSocket")
	rulePodSec     = rule("pod-security", diag.Error, "A step, sidecar or volume that the Pod Security level its environment enforces refuses", "meet the level (the finding names the field), or lower the environment's level where a policy allows it")
	ruleRemote     = rule("remote-reference", diag.Error, "A remote task, pipeline or StepAction reference Tekton's resolvers would refuse: unknown or missing parameters, bad values", "give the resolver the parameters Tekton's release needs, in their form")
	ruleRemoteInfo = rule("remote-unseen", diag.Info, "A task, pipeline or StepAction resolved when the pipeline runs, which pipec cannot see", "nothing; pin the reference (the restricted pack requires it) and review what it runs")
	ruleStepActSC  = rule("stepaction-security-context", diag.Warning, "A StepAction runs with its own security context, which pipec cannot see, in a namespace that enforces Pod Security", "make sure the StepAction sets a security context the namespace admits")
	ruleNamespace  = rule("namespace", diag.Error, "An environment in a system namespace, or two environments sharing one", "give each environment a namespace of its own")
	ruleCINS       = rule("ci-namespace-unprotected", diag.Warning, "Pipelines run in a namespace that is not an environment, so no quota, limit range or network policy protects it", "declare the CI namespace as an environment")
	ruleQuota      = rule("quota", diag.Error, "An environment without a quota, or workloads above its quota", "set a quota that holds the environment's workloads")
	ruleNetwork    = rule("network", diag.Error, "A network setting that cannot work or is open: no CIDRs, invalid CIDRs, default deny off, the Kubernetes API unreachable", "list the CIDRs and namespaces traffic may go to and come from")
	rulePromotion  = rule("promotion", diag.Error, "A promotion from itself, or a cycle of promotions", "promote along a chain such as dev -> staging -> prod")
	ruleClusterNS  = rule("cluster-resource-namespaced", diag.Warning, "A team's clusterResources lists a namespaced kind, on which Argo CD's cluster-resource whitelist has no effect", "list only cluster-scoped kinds (Namespace, ClusterRole, CustomResourceDefinition...); the team's apps may create namespaced kinds in their environments without an entry")
	ruleRBAC       = rule("rbac", diag.Error, "A team role that grants nothing to no one", "list the groups the role is for")
	rulePerms      = rule("permissions", diag.Error, "Pipeline permissions that grant nothing, use wildcards or cannot be placed", "grant named verbs on named resources in an environment of the same cluster")
	ruleSchedule   = rule("schedule", diag.Error, "A cron schedule or time zone the controller would refuse", "write five cron fields in range, and an IANA time zone such as Europe/Berlin")
	ruleApp        = rule("app", diag.Error, "An app that is not deployed, or deploys from or to where its team may not, or with settings its source cannot take", "deploy from the team's repositories to its environments, with settings of the source's type")
	ruleRollout    = rule("rollout", diag.Error, "A rollout strategy Argo Rollouts or Kubernetes would refuse", "give a canary steps with weights that go up; keep maxSurge or maxUnavailable above zero; rolling parameters need a kustomize source")
	ruleAnalysis   = rule("analysis", diag.Error, "An objective or test a release's analysis cannot run: a query Prometheus' parser refuses, a metric the app does not declare, an analysis named that does not exist, an analysis that cannot fail before the pause it guards ends", "fix the query or declare its metric under the app's metrics.produces; name the app's objectives and tests; lengthen the pause or shorten the interval")
	ruleAutoscaler = rule("autoscaler", diag.Error, "An autoscaler that cannot work: no target or metric, bounds that cross, a target it would fight", "give it one target, a metric something produces, and minReplicas at most maxReplicas")
	ruleNodePool   = rule("node-pool", diag.Error, "A node pool that cannot launch the nodes its pipelines need", "set limits and shapes that hold at least one node of the size a run's widest pod requests")
	ruleUnbounded  = rule("node-pool-unbounded", diag.Warning, "Nothing bounds how many pipeline runs a node pool must hold at once", "set quota.pipelineRuns or scaling.maxConcurrentRuns")
	rulePoolCap    = rule("node-pool-capacity", diag.Warning, "A node pool's limits are below what the worst case of its pipelines needs", "raise the limits, or bound the concurrent runs")
	ruleDeadlock   = rule("pipelinerun-deadlock", diag.Warning, "A burst of PipelineRuns can deadlock the CI namespace: affinity-assistant pods hold its pod quota", "bound concurrent runs below the pod quota less a run's peak, or turn off Tekton's coschedule")
	ruleTrigger    = rule("trigger", diag.Error, "A trigger that cannot fire or cannot be built: no events, no branches, a path filter the forge cannot serve, an invalid pattern", "list the events and branches; path filters on GitHub pull requests need triggers.githubToken")
	ruleTrigSetup  = rule("trigger-setup", diag.Error, "Triggers without what their EventListener needs: the webhook Secret, a namespace", "set triggers.webhookSecret and the namespace")
	ruleTrigParam  = rule("trigger-param", diag.Error, "A trigger parameter the pipeline does not declare, of another type, or from an unknown event field; or a required one not set", "pass the pipeline's declared string parameters from known event fields")
	ruleFilter     = rule("trigger-filter", diag.Error, "A trigger's CEL filter that does not compile", "write a CEL expression over body, header and extensions")
	ruleFilterFld  = rule("trigger-filter-field", diag.Warning, "A trigger's CEL filter reads a field the forge's webhook payloads do not have", "fix the field name (the finding suggests the closest)")
	ruleReady      = rule("gitlab-ready-for-review", diag.Warning, "GitLab reports ready-for-review as an update that clears the draft flag", "nothing: pipec matches that update")
	ruleForkCreds  = rule("fork-credentials", diag.Error, "A pipeline that pull requests from forks run reads credentials: a Secret or token volume, a Secret in env", "do not run it for forks, or move what reads credentials out of the runs forks start")
	ruleForkRemote = rule("fork-remote-task", diag.Warning, "A pipeline that pull requests from forks run uses a remote task, or is remote, which pipec cannot see", "review the remote task, or do not run it for forks")
)

// Rules of the environments Flux delivers (delivery.engine "flux").
var (
	ruleFluxCluster   = rule("flux-cluster", diag.Error, "An environment Flux delivers on another cluster than Flux's own", "run Flux in that cluster, with a configuration of its own, or deliver the environment with Argo CD (delivery: engine: \"argocd\")")
	ruleFluxTeam      = rule("flux-cluster-resources", diag.Error, "A team with cluster-scoped resources deploys to an environment Flux delivers, where its ServiceAccount has rights in its namespaces only", "deliver those resources with the platform's own output, or the team's environments with Argo CD")
	ruleFluxGitOps    = rule("flux-gitops", diag.Warning, "Flux delivers environments, but no GitOps repository (argocd.gitops) says where pipec's output is committed: nothing applies the environments' directories", "set argocd.gitops (the repository `pipec build -o` output is committed to), or apply the environments' directories yourself")
	ruleFluxNotMapped = rule("flux-not-mapped", diag.Warning, "A setting Flux has no counterpart for: sync windows, a sync without self-healing", "drop it: production environments Flux delivers are suspended until a person promotes them, and Flux always corrects drift")
)
