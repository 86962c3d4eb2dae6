// Package benchgen writes generated pipec configurations for benchmarks and
// scale tests: n pipelines written the way people write them, each declared
// separately and sharing a task library.
package benchgen

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// library is the package clause, the shared image and the task library
// every generated configuration starts with.
const library = `package ci

namespace: "ci"

_image: "docker.io/library/golang:1.25.11@sha256:00feed335fe561979f2cdcc30a5191231977c5631fe79c40f7d3ab63b4fa222f"

tasks: {
	clone: {
		params: {url: {}, revision: default: "main"}
		workspaces: output: {}
		results: commit: {}
		steps: [{name: "clone", image: _image, script: "git clone $(params.url) $(workspaces.output.path) && printf x > $(results.commit.path)"}]
	}
	test: {
		params: packages: default: "./..."
		workspaces: source: {}
		steps: [{name: "test", image: _image, workingDir: "$(workspaces.source.path)", script: "go test $(params.packages)"}]
	}
}
`

// pipelineTasks is a pipeline's graph: clone, three checks, package.
const pipelineTasks = `	tasks: {
		clone: {
			uses: "clone"
			params: {url: "$(params.git-url)", revision: "$(params.git-revision)"}
			workspaces: output: "source"
		}
		unit: {uses: "test", after: ["clone"], workspaces: source: "source", params: packages: "./pkg/..."}
		integration: {uses: "test", after: ["clone"], workspaces: source: "source", params: packages: "./it/..."}
		lint: {
			after: ["clone"]
			workspaces: source: "source"
			steps: [{name: "vet", image: _image, workingDir: "$(workspaces.source.path)", script: "go vet ./..."}]
		}
		package: {
			after: ["unit", "integration", "lint"]
			params: commit: "$(tasks.clone.results.commit)"
			steps: [{name: "pack", image: _image, script: "echo $(params.commit)"}]
		}
	}
`

// Pipelines returns a configuration with n pipelines; with triggers, each
// runs on pushes to its own directory and on pull requests.
func Pipelines(n int, triggers bool) string {
	var sb strings.Builder
	sb.WriteString(library)
	for i := range n {
		fmt.Fprintf(&sb, "\npipelines: \"service-%03d\": {\n\tparams: {\"git-url\": {}, \"git-revision\": default: \"main\"}\n\tworkspaces: source: {}\n%s}\n", i, pipelineTasks)
		if triggers {
			fmt.Fprintf(&sb, "pipelines: \"service-%03d\": on: {push: paths: [\"services/%03d/\"], pullRequest: {}}\n", i, i)
		}
	}
	if triggers {
		sb.WriteString("triggers: webhookSecret: {name: \"hook\", key: \"secret\"}\n")
	}
	return sb.String()
}

// Monorepo returns a monorepo of n services: each with its own triggered
// pipeline and an app deployed to four environments, plus the CI
// environment the pipelines run in (five environments in all). Quotas grow
// with n so that the capacity checks pass.
func Monorepo(n int) string {
	var sb strings.Builder
	sb.WriteString(library)
	fmt.Fprintf(&sb, `
environments: {
	ci: {namespace: "ci", quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d}, network: kubernetesAPI: {cidrs: ["10.96.0.1/32"], ports: [443]}}
	dev: {namespace: "mono-dev", quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d}}
	qa: {namespace: "mono-qa", promotion: from: "dev", quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d}}
	staging: {namespace: "mono-staging", promotion: from: "qa", quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d}}
	prod: {namespace: "mono-prod", production: true, promotion: {from: "staging", approval: "manual"}, quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d}}
}

teams: platform: environments: ["dev", "qa", "staging", "prod"]

argocd: gitops: repoURL: "https://github.com/acme/mono.git"

triggers: webhookSecret: {name: "hook", key: "secret"}
`, 8+n, 16+2*n, 20+4*n)
	for i := range n {
		fmt.Fprintf(&sb, `
pipelines: "service-%03[1]d": {
	timeout: "30m"
	params: {"git-url": {}, "git-revision": default: "main"}
	workspaces: source: {}
%[3]s	on: {
		push: {branches: ["main"], paths: ["services/%03[1]d/**"]}
		workspaces: source: volumeClaimTemplate: storage: "1Gi"
	}
}

apps: "service-%03[1]d": {
	team: "platform"
	source: {repoURL: "https://github.com/acme/mono.git", path: "services/%03[1]d/deploy"}
	image: {repository: "ghcr.io/acme/service-%03[1]d", digest: "sha256:%[2]x"}
	replicas: 1
	resources: requests: {cpu: "100m", memory: "128Mi"}
	environments: {dev: {}, qa: {}, staging: {}, prod: replicas: 2}
}
`, i, sha256.Sum256(fmt.Appendf(nil, "service-%03d", i)), pipelineTasks)
	}
	return sb.String()
}
