package policies

import (
	"maps"
	"slices"
	"testing"

	"github.com/pipec/pipec/model"
)

// goodInput is an input every built-in check passes.
func goodInput() *Input {
	in := &Input{
		Steps: []Step{{
			Item: Item{Path: "tasks.build.steps[0]", Environment: "ci"}, Task: "build", Container: "step", Name: "build",
			Image:        "gcr.io/kaniko-project/executor:v1.23.2@sha256:9e69fd4330ec887829c780f5126dd80edc663df6def362cd22e79bcdf00ac53f",
			RunAsNonRoot: true, RunAsUser: 65532, SeccompProfile: "RuntimeDefault",
			CapabilitiesAdd: []string{}, CapabilitiesDrop: []string{"ALL"}, ReadOnlyRootFilesystem: true,
			Requests: Resources{CPU: "100m", Memory: "128Mi"}, Limits: Resources{Memory: "512Mi"},
			Env:  []EnvVar{{Path: "tasks.build.steps[0].env.TOKEN", Name: "TOKEN", FromSecret: true}},
			Args: []string{"--context=."},
		}},
		Images: []Image{{Item: Item{Path: "tasks.build.steps[0].image", Environment: "ci"}, Kind: "step", Image: "ghcr.io/acme/tool:1.0@sha256:00feed335fe561979f2cdcc30a5191231977c5631fe79c40f7d3ab63b4fa222f",
			Registry: "ghcr.io", Repository: "ghcr.io/acme/tool", Tag: "1.0", Digest: "sha256:00feed335fe561979f2cdcc30a5191231977c5631fe79c40f7d3ab63b4fa222f"}},
		Params: []Param{{Item: Item{Path: "pipelines.p.params.revision.default", Environment: "ci"}, Name: "revision", Default: "main"}},
		Tasks:  []Task{{Item: Item{Path: "tasks.build", Environment: "ci"}, Name: "build", Results: []string{"IMAGE_URL", "IMAGE_DIGEST"}, StepImages: []string{"gcr.io/kaniko-project/executor:v1.23.2"}}},
		Pipelines: []Pipeline{{Item: Item{Path: "pipelines.p", Environment: "ci"}, Name: "p", Namespace: "ci", Timeout: "30m", ServiceAccount: "p-pipeline", Triggered: true, Forks: "untrusted", Credentials: true,
			GatedImage: "ghcr.io/acme/cart", Scans: true, Signs: true, ScanFatal: true, ScanPath: "pipelines.p.gates.scan"}},
		Volumes: []Volume{{Item: Item{Path: "tasks.build.volumes.scratch", Environment: "ci"}, Task: "build", Name: "scratch", Kind: "emptyDir"}},
		RemoteTasks: []RemoteTask{{Item: Item{Path: "pipelines.p.tasks.lint.ref", Environment: "ci"}, What: "task lint of pipeline p", Pipeline: "p", Task: "lint", Resolver: "bundles",
			Source: "ghcr.io/acme/tasks@sha256:00feed335fe561979f2cdcc30a5191231977c5631fe79c40f7d3ab63b4fa222f", Pinned: true, PinPath: "pipelines.p.tasks.lint.ref.params.bundle"}},
		ServiceAccounts: []ServiceAccount{
			{Item: Item{Path: "pipelines.p", Environment: "ci"}, Name: "p-pipeline", Namespace: "ci"},
			{Item: Item{Path: "triggers", Environment: "ci"}, Name: "pipec-listener", Namespace: "ci", AutomountToken: true, HasPermissions: true},
		},
		Roles: []Role{{Item: Item{Path: "pipelines.p.permissions[0]", Environment: "dev"}, Kind: "Role", Name: "pipec-pipeline-p", Namespace: "dev",
			Rules: []Rule{{Path: "pipelines.p.permissions[0]", APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}, ResourceNames: []string{}}}}},
		Bindings: []Binding{{Item: Item{Path: "pipelines.p.permissions[0]", Environment: "dev"}, Kind: "RoleBinding", Name: "pipec-pipeline-p", Namespace: "dev",
			Subjects: []Subject{{Kind: "ServiceAccount", Name: "p-pipeline", Namespace: "ci"}}}},
		Environments: []Environment{{Item: Item{Path: "environments.prod", Environment: "prod"}, Name: "prod", Namespace: "shop-prod", Cluster: model.InCluster,
			Production: true, PodSecurity: "restricted", Quota: true, LimitRange: true, DefaultDeny: true,
			EgressCIDRs:  []CIDR{{Path: "environments.prod.network.egress.git.cidrs[0]", CIDR: "140.82.112.0/20"}},
			EgressShare:  egressShare([]string{"140.82.112.0/20"}),
			EgressWidest: CIDR{Path: "environments.prod.network.egress.git.cidrs[0]", CIDR: "140.82.112.0/20"}, SyncWindows: -1,
			AdmissionAllow: []AllowedImage{{Path: "environments.prod.admission.allow[0]", Image: "quay.io/prometheus/*", Scope: "path"}}}},
		AppProjects: []AppProject{{Item: Item{Path: "teams.shop"}, Name: "shop", SourceRepos: []string{"https://github.com/acme/cart.git"}, SourceRepoPaths: []string{"apps.cart.source.repoURL"},
			Destinations: []Dest{{Server: model.InCluster, Namespace: "shop-prod"}}, ClusterResources: []GroupKind{},
			Protected: []GroupKind{{Kind: "LimitRange"}, {Kind: "ResourceQuota"}, {Group: "networking.k8s.io", Kind: "NetworkPolicy"}}, Production: true, SyncWindows: 1}},
		FluxDeployments: []FluxDeployment{{Item: Item{Path: "apps.cart.environments.prod", Environment: "prod"}, Kind: "Kustomization", Name: "cart", Namespace: "shop-prod",
			Team: "shop", ServiceAccountName: "flux-shop", TargetNamespace: "shop-prod", Production: true, Suspended: true}},
		Applications: []Application{{Item: Item{Path: "apps.cart.environments.prod", Environment: "prod"}, Name: "cart-prod", Project: "shop", Production: true}},
		Deployments:  []Deployment{{Item: Item{Path: "apps.cart.environments.prod", Environment: "prod"}, App: "cart", Production: true, Replicas: 3, Strategy: "rolling", Objectives: []string{}, ImageRepository: "ghcr.io/acme/cart", ImageScanned: true, ImageSigned: true}},
		Listeners:    []Listener{{Item: Item{Path: "triggers", Environment: "ci"}, Name: "pipec-listener", Replicas: 2}},
		Autoscalers: []Autoscaler{{Item: Item{Path: "scaling.autoscalers.cart", Environment: "prod"}, Name: "cart", Production: true, Target: "Deployment/cart",
			MinReplicas: 2, MaxReplicas: 10, MaxUnavailable: "1"}},
		Objects:  []Object{},
		Secrets:  []Secret{},
		Settings: Settings{AllowedRegistries: []string{}},
	}
	return in
}

// failing makes, for every built-in check, an input that fails it: the
// good input with one thing wrong.
var failing = map[string]func(in *Input){
	"pipec/baseline/privileged": func(in *Input) { in.Steps[0].Privileged = true },
	"pipec/baseline/capabilities-baseline": func(in *Input) {
		in.Steps[0].CapabilitiesAdd = []string{"SYS_ADMIN"}
	},
	"pipec/baseline/seccomp-unconfined": func(in *Input) { in.Steps[0].SeccompProfile = "Unconfined" },
	"pipec/baseline/image-pinned": func(in *Input) {
		in.Images[0].Image, in.Images[0].Tag, in.Images[0].Digest = "ghcr.io/acme/tool:latest", "latest", ""
	},
	"pipec/baseline/secret-env-literal": func(in *Input) {
		in.Steps[0].Env = append(in.Steps[0].Env, EnvVar{Path: "x.env.DB_PASSWORD", Name: "DB_PASSWORD", Value: "hunter2"})
	},
	"pipec/baseline/secret-value-literal": func(in *Input) {
		in.Secrets = FindSecrets([]Text{{Path: "tasks.build.steps[0].script", Value: "curl -H 'Authorization: token ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789' https://api.github.com"}},
			func(model.Path) string { return "ci" })
	},
	"pipec/baseline/secret-param-default": func(in *Input) {
		in.Params = append(in.Params, Param{Item: Item{Path: "pipelines.p.params.api-token.default", Environment: "ci"}, Name: "api-token", Default: "abc"})
	},
	"pipec/baseline/rbac-wildcard":   func(in *Input) { in.Roles[0].Rules[0].Resources = []string{"*"} },
	"pipec/baseline/rbac-escalation": func(in *Input) { in.Roles[0].Rules[0].Verbs = []string{"get", "escalate"} },
	"pipec/baseline/rbac-escalation-paths": func(in *Input) {
		in.Roles[0].Rules = append(in.Roles[0].Rules, Rule{Path: "pipelines.p.permissions[1]", APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}, ResourceNames: []string{}})
	},
	"pipec/baseline/rbac-cluster-admin": func(in *Input) {
		in.Bindings[0].RoleRef.Kind, in.Bindings[0].RoleRef.Name = "ClusterRole", "cluster-admin"
	},
	"pipec/baseline/rbac-secrets-read": func(in *Input) {
		in.Roles[0].Rules = append(in.Roles[0].Rules, Rule{Path: "pipelines.p.permissions[1]", APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}, ResourceNames: []string{}})
	},
	"pipec/baseline/sa-token-automount":     func(in *Input) { in.ServiceAccounts[0].AutomountToken = true },
	"pipec/baseline/namespace-quota":        func(in *Input) { in.Environments[0].Quota = false },
	"pipec/baseline/namespace-limit-range":  func(in *Input) { in.Environments[0].LimitRange = false },
	"pipec/baseline/namespace-default-deny": func(in *Input) { in.Environments[0].DefaultDeny = false },
	"pipec/baseline/namespace-system":       func(in *Input) { in.Pipelines[0].Namespace = "default" },
	"pipec/baseline/step-resources":         func(in *Input) { in.Steps[0].Limits.Memory = "" },
	"pipec/baseline/egress-any": func(in *Input) {
		e := &in.Environments[0]
		e.EgressCIDRs = append(e.EgressCIDRs, CIDR{Path: "x", CIDR: "0.0.0.0/1"}, CIDR{Path: "y", CIDR: "128.0.0.0/1"})
		e.EgressShare, e.EgressWidest = egressShare([]string{"0.0.0.0/1", "128.0.0.0/1"}), CIDR{Path: "x", CIDR: "0.0.0.0/1"}
	},
	"pipec/baseline/argocd-default-project": func(in *Input) { in.Applications[0].Project = "default" },
	"pipec/restricted/admission-registry-wide": func(in *Input) {
		in.Environments[0].AdmissionAllow = append(in.Environments[0].AdmissionAllow, AllowedImage{Path: "environments.prod.admission.allow[0]", Image: "docker.io/*", Scope: "registry"})
	},
	"pipec/baseline/argocd-source-wildcard": func(in *Input) {
		in.AppProjects[0].SourceRepos, in.AppProjects[0].SourceRepoPaths = []string{"*"}, []string{"teams.shop.sourceRepos[0]"}
	},
	"pipec/baseline/argocd-destination-wildcard": func(in *Input) {
		in.AppProjects[0].Destinations = []Dest{{Server: "*", Namespace: "*"}}
	},
	"pipec/baseline/argocd-cluster-resources": func(in *Input) {
		in.AppProjects[0].ClusterResources = []GroupKind{{Path: "teams.shop.clusterResources[0]", Group: "*", Kind: "*"}}
	},
	"pipec/baseline/argocd-protected-resources":  func(in *Input) { in.AppProjects[0].Protected = in.AppProjects[0].Protected[:1] },
	"pipec/baseline/argocd-prod-sync-windows":    func(in *Input) { in.Environments[0].SyncWindows = 0 },
	"pipec/baseline/flux-tenant-service-account": func(in *Input) { in.FluxDeployments[0].ServiceAccountName = "" },
	"pipec/baseline/flux-prod-manual":            func(in *Input) { in.FluxDeployments[0].Suspended = false },
	"pipec/baseline/prod-replicas":               func(in *Input) { in.Deployments[0].Replicas = 1 },
	"pipec/baseline/prod-pod-security":           func(in *Input) { in.Environments[0].PodSecurity = "privileged" },
	"pipec/baseline/pipeline-timeout":            func(in *Input) { in.Pipelines[0].Timeout = "" },
	"pipec/baseline/fork-pull-requests-trusted":  func(in *Input) { in.Pipelines[0].Forks = "trusted" },

	"pipec/restricted/allow-privilege-escalation": func(in *Input) { in.Steps[0].AllowPrivilegeEscalation = true },
	"pipec/restricted/run-as-non-root":            func(in *Input) { in.Steps[0].RunAsNonRoot = false },
	"pipec/restricted/run-as-user-root":           func(in *Input) { in.Steps[0].RunAsUser = 0 },
	"pipec/restricted/seccomp-profile":            func(in *Input) { in.Steps[0].SeccompProfile = "" },
	"pipec/restricted/capabilities-restricted":    func(in *Input) { in.Steps[0].CapabilitiesDrop = []string{"NET_RAW"} },
	"pipec/restricted/read-only-root-filesystem":  func(in *Input) { in.Steps[0].ReadOnlyRootFilesystem = false },
	"pipec/restricted/image-digest": func(in *Input) {
		in.Images[0].Image, in.Images[0].Digest = "ghcr.io/acme/tool:1.0", ""
	},
	"pipec/restricted/allowed-registries":      func(in *Input) { in.Settings.AllowedRegistries = []string{"registry.acme.example"} },
	"pipec/restricted/chains-results":          func(in *Input) { in.Tasks[0].Results = []string{"IMAGE_DIGEST"} },
	"pipec/restricted/prod-min-replicas":       func(in *Input) { in.Deployments[0].Replicas = 1 },
	"pipec/restricted/prod-image-gated":        func(in *Input) { in.Deployments[0].ImageSigned = false },
	"pipec/baseline/scan-fatal":                func(in *Input) { in.Pipelines[0].ScanFatal = false },
	"pipec/restricted/listener-replicas":       func(in *Input) { in.Listeners[0].Replicas = 1 },
	"pipec/restricted/prod-release-objectives": func(in *Input) { in.Deployments[0].Strategy = "canary" },
	"pipec/restricted/prod-hpa-min-replicas":   func(in *Input) { in.Autoscalers[0].MinReplicas = 1 },
	"pipec/baseline/pdb-allows-disruption": func(in *Input) {
		in.Autoscalers[0].MaxUnavailable, in.Autoscalers[0].MinAvailable = "", "2"
	},
	"pipec/restricted/fork-pull-requests-trusted": func(in *Input) { in.Pipelines[0].Forks = "trusted" },
	"pipec/baseline/host-path-volume": func(in *Input) {
		in.Volumes[0].Kind, in.Volumes[0].HostPath = "hostPath", "/var/run/docker.sock"
	},
	"pipec/restricted/remote-task-pinned": func(in *Input) {
		in.RemoteTasks[0].Source, in.RemoteTasks[0].Pinned, in.RemoteTasks[0].PinFix = "ghcr.io/acme/tasks:v1", false, "a bundle pinned by digest"
	},
}

func evaluate(t *testing.T, in *Input) map[string][]Violation {
	t.Helper()
	packs, err := BuiltinPacks()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]Violation{}
	for _, p := range packs {
		res, err := p.Evaluate(in)
		if err != nil {
			t.Fatal(err)
		}
		for c, vs := range res {
			out[c.ID] = vs
		}
	}
	return out
}

// TestChecks has, for every built-in check, a passing case (the good
// input) and a failing case (one mutation), and fails when a check has no
// failing case.
func TestChecks(t *testing.T) {
	pass := evaluate(t, goodInput())
	packs, _ := BuiltinPacks()
	var ids []string
	for _, p := range packs {
		for _, c := range p.Checks {
			ids = append(ids, c.ID)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			if vs := pass[id]; len(vs) > 0 {
				t.Fatalf("passing case has violations: %v", vs)
			}
			mutate, ok := failing[id]
			if !ok {
				t.Fatal("no failing case for this check")
			}
			in := goodInput()
			mutate(in)
			vs := evaluate(t, in)[id]
			if len(vs) == 0 {
				t.Fatal("failing case has no violation")
			}
			for _, v := range vs {
				if v.Path == "" || v.Message == "" {
					t.Errorf("violation without path or message: %+v", v)
				}
			}
		})
	}
	for id := range failing {
		if !slices.Contains(ids, id) {
			t.Errorf("failing case for unknown check %s", id)
		}
	}
}

func TestExpand(t *testing.T) {
	packs, _ := BuiltinPacks()
	got, err := Expand([]string{"restricted"}, packs)
	if err != nil || !slices.Equal(got, []string{"baseline", "restricted"}) {
		t.Fatalf("Expand(restricted) = %v, %v", got, err)
	}
	if _, err := Expand([]string{"nope"}, packs); err == nil {
		t.Fatal("unknown pack expanded")
	}
}

func TestApplyWaivers(t *testing.T) {
	known := map[string]bool{"pipec/restricted/run-as-non-root": true}
	findings := []struct{ id, path string }{
		{"pipec/restricted/run-as-non-root", "tasks.kaniko.steps[0].securityContext"},
		{"pipec/restricted/run-as-non-root", "tasks.other.steps[0].securityContext"},
	}
	in := toDiags(findings)
	waivers := []*model.Waiver{
		{Check: "pipec/restricted/run-as-non-root", Scope: "tasks.kaniko", Reason: "kaniko needs root", Expires: "2027-01-31", Path: "policy.waivers[0]"},
		{Check: "pipec/restricted/run-as-non-root", Scope: "tasks.gone", Reason: "old", Expires: "2020-01-01", Path: "policy.waivers[1]"},
		{Check: "pipec/restricted/nope", Reason: "typo", Expires: "2027-01-31", Path: "policy.waivers[2]"},
		{Check: "pipec/restricted/run-as-non-root", Scope: "tasks.unused", Reason: "r", Expires: "2027-01-31", Path: "policy.waivers[3]"},
	}
	out, statuses, suppressed := ApplyWaivers(in, waivers, known, "2026-11-22", model.SourceMap{})
	if len(suppressed) != 1 || suppressed[0].Finding.Path != "tasks.kaniko.steps[0].securityContext" {
		t.Fatalf("suppressed = %+v", suppressed)
	}
	ids := map[string]int{}
	for _, d := range out {
		ids[d.ID]++
	}
	want := map[string]int{"pipec/restricted/run-as-non-root": 1, WaiverExpired: 1, WaiverUnknown: 1, WaiverUnused: 1}
	for id, n := range want {
		if ids[id] != n {
			t.Errorf("%s: %d findings, want %d (%v)", id, ids[id], n, out)
		}
	}
	gotStatus := []string{statuses[0].Status, statuses[1].Status, statuses[2].Status, statuses[3].Status}
	if !slices.Equal(gotStatus, []string{"active", "expired", "active", "unused"}) {
		t.Errorf("statuses = %v", gotStatus)
	}
	// The expiry date itself still applies.
	_, st, _ := ApplyWaivers(in, waivers[:1], known, "2027-01-31", model.SourceMap{})
	if st[0].Status != "active" {
		t.Errorf("a waiver expiring today is %s", st[0].Status)
	}
}

// TestWaiverFindingPositions: a finding about a waiver of policy.waivers
// is at its field at fault; an @waive attribute's, at its field; a waiver
// where a finding's value is written (defaults.step) covers it.
func TestWaiverFindingPositions(t *testing.T) {
	at := func(line int) model.Pos { return model.Pos{File: "p.cue", Line: line, Col: 3} }
	src := model.NewSourceMap(map[model.Path]model.Pos{
		"policy.waivers[0]": at(1), "policy.waivers[0].reason": at(2),
		"policy.waivers[1]": at(5), "policy.waivers[1].expires": at(7),
		"defaults.step.securityContext.privileged": at(9),
		"tasks.t.steps[0]":                         at(12),
	})
	src.Alias("tasks.t.steps[0].securityContext", "defaults.step.securityContext")
	known := map[string]bool{"pipec/baseline/privileged": true}
	waivers := []*model.Waiver{
		{Check: "pipec/baseline/privileged", Reason: "", Expires: "2099-01-01", Path: "policy.waivers[0]"},
		{Check: "pipec/baseline/privileged", Reason: "r", Expires: "2020-01-01", Path: "policy.waivers[1]"},
		{Check: "pipec/baseline/privileged", Reason: "r", Expires: "2021-01-01", Path: "apps.x.replicas", Scope: "apps.x.replicas", OnField: true},
		{Check: "pipec/baseline/privileged", Reason: "accepted", Expires: "2099-01-01", Path: "defaults.step.securityContext.privileged", Scope: "defaults.step.securityContext.privileged", OnField: true},
	}
	in := toDiags([]struct{ id, path string }{{"pipec/baseline/privileged", "tasks.t.steps[0].securityContext.privileged"}})
	out, _, suppressed := ApplyWaivers(in, waivers, known, "2026-11-22", src)
	got := map[model.Path]model.Pos{}
	for _, d := range out {
		got[d.Path] = d.Pos
	}
	want := map[model.Path]model.Pos{"policy.waivers[0].reason": at(2), "policy.waivers[1].expires": at(7), "apps.x.replicas": {}}
	if !maps.Equal(got, want) {
		t.Errorf("findings at %v, want %v", got, want)
	}
	if len(suppressed) != 1 {
		t.Errorf("the waiver at defaults.step suppressed %d findings, want 1", len(suppressed))
	}
}
