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

// imageTasks is pipelineTasks whose last task builds the service's image
// (results IMAGE_URL and IMAGE_DIGEST), for gates.
var imageTasks = strings.Replace(pipelineTasks, `			params: commit: "$(tasks.clone.results.commit)"
			steps: [{name: "pack", image: _image, script: "echo $(params.commit)"}]`, `			params: commit: "$(tasks.clone.results.commit)"
			results: {IMAGE_URL: {}, IMAGE_DIGEST: {}}
			steps: [{name: "pack", image: _image, script: "echo $(params.commit) > $(results.IMAGE_URL.path) && printf 'sha256:%064d' 0 > $(results.IMAGE_DIGEST.path)"}]`, 1)

// gateEgress is where the gates of both shapes reach out from the CI
// namespace: GitHub and its registry, whose addresses serve the image and
// Trivy's database mirror there.
const gateEgress = `
_github: {cidrs: ["140.82.112.0/20", "185.199.108.0/22"], ports: [443], hosts: ["github.com", "ghcr.io", "pkg-containers.githubusercontent.com"]}
_trivyDatabase: {repository: "ghcr.io/aquasecurity/trivy-db:2", javaRepository: "ghcr.io/aquasecurity/trivy-java-db:1"}
`

// Pipelines returns a configuration with n pipelines; with triggers, each
// runs on pushes to its own directory and on pull requests.
func Pipelines(n int, triggers bool) string {
	var sb strings.Builder
	sb.WriteString(library)
	for i := range n {
		fmt.Fprintf(&sb, "\npipelines: \"service-%03d\": {\n\ttimeout: \"30m\"\n\tparams: {\"git-url\": {}, \"git-revision\": default: \"main\"}\n\tworkspaces: source: {}\n%s}\n", i, pipelineTasks)
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
// pipeline, which scans and signs the service's image for production
// (gates), and an app deployed to four environments, plus the CI
// environment the pipelines run in (five environments in all). Quotas grow
// with n so that the capacity checks pass; it builds without a finding
// under the policy packs (TestGeneratedShapes).
func Monorepo(n int) string {
	var sb strings.Builder
	sb.WriteString(library)
	fmt.Fprintf(&sb, `
environments: {
	ci: {namespace: "ci", quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d, pipelineRuns: %[4]d}, network: {kubernetesAPI: {cidrs: ["10.96.0.1/32"], ports: [443]}, egress: github: _github}}
	dev: {namespace: "mono-dev", quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d}}
	qa: {namespace: "mono-qa", promotion: from: "dev", quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d}}
	staging: {namespace: "mono-staging", promotion: from: "qa", quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d}}
	prod: {namespace: "mono-prod", production: true, promotion: {from: "staging", approval: "manual"}, quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d}}
}

teams: platform: environments: ["dev", "qa", "staging", "prod"]

argocd: gitops: repoURL: "https://github.com/acme/mono.git"

triggers: webhookSecret: {name: "hook", key: "secret"}
%[5]s
_cosignPublicKey: """
	-----BEGIN PUBLIC KEY-----
	MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGQGN68p/zcLwzJKdczuHHWj23Nez
	tsjNvn8HQ2lGHPC4yENUzWRUQiBXPVi/dBlZu3FaT77QhzKBFDPTb1aOMA==
	-----END PUBLIC KEY-----
	"""
`, 8+n, 16+2*n, 20+4*n, 2*n, gateEgress)
	for i := range n {
		fmt.Fprintf(&sb, `
pipelines: "service-%03[1]d": {
	timeout: "30m"
	params: {"git-url": {}, "git-revision": default: "main"}
	workspaces: source: {}
%[3]s	gates: {
		image: "ghcr.io/acme/service-%03[1]d"
		scan: {failOn: "critical", database: _trivyDatabase}
		sign: {key: secret: "cosign", publicKey: _cosignPublicKey, rekor: "", admit: ["prod"]}
	}
	on: {
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
`, i, sha256.Sum256(fmt.Appendf(nil, "service-%03d", i)), imageTasks)
	}
	return sb.String()
}

// TeamSize is the number of services of one team in Teams.
const TeamSize = 25

// teamsLibrary is the platform team's file of a Teams configuration: the
// task library, the CI environment and six deployment environments in
// promotion order, and the templates every team file stamps its services
// from.
const teamsLibrary = `package platform

namespace: "ci"

_golang: "docker.io/library/golang:1.25.11@sha256:00feed335fe561979f2cdcc30a5191231977c5631fe79c40f7d3ab63b4fa222f"
_kaniko: "gcr.io/kaniko-project/executor:v1.23.2@sha256:4e7a52dd1f14872430652bb3b027405b8dfd17c4538751c620ac005741ef9698"

tasks: {
	"git-clone": {
		description: "Clone a repository at a revision."
		params: {url: {}, revision: default: "main"}
		workspaces: output: {}
		results: commit: {}
		steps: [{name: "clone", image: _golang, script: "git clone $(params.url) $(workspaces.output.path) && git -C $(workspaces.output.path) rev-parse HEAD | tr -d '\\n' > $(results.commit.path)"}]
	}
	"go-test": {
		params: {packages: default: "./...", "go-version": default: "1.25"}
		workspaces: source: {}
		steps: [{name: "test", image: _golang, workingDir: "$(workspaces.source.path)", script: "GOTOOLCHAIN=go$(params.go-version) go test $(params.packages)"}]
	}
	"go-lint": {
		workspaces: source: {}
		steps: [{name: "vet", image: _golang, workingDir: "$(workspaces.source.path)", script: "go vet ./..."}]
	}
	"image-build": {
		params: {image: {}, context: default: "."}
		workspaces: source: {}
		results: {IMAGE_URL: {}, IMAGE_DIGEST: {}}
		steps: [{
			name:  "build"
			image: _golang
			workingDir: "$(workspaces.source.path)/$(params.context)"
			script: "printf '%s' $(params.image) > $(results.IMAGE_URL.path) && printf 'sha256:%064d' 0 > $(results.IMAGE_DIGEST.path)"
		}]
	}
}

environments: {
	ci: {namespace: "ci", quota: _quota, network: {kubernetesAPI: {cidrs: ["10.96.0.1/32"], ports: [443]}, egress: github: _github}}
	dev: {namespace: "apps-dev", quota: _quota}
	test: {namespace: "apps-test", promotion: from: "dev", quota: _quota}
	qa: {namespace: "apps-qa", promotion: from: "test", quota: _quota}
	staging: {namespace: "apps-staging", promotion: from: "qa", quota: _quota}
	preprod: {namespace: "apps-preprod", promotion: from: "staging", quota: _quota}
	prod: {namespace: "apps-prod", production: true, promotion: {from: "preprod", approval: "manual"}, quota: _quota}
}

argocd: gitops: repoURL: "https://github.com/acme/platform.git"

triggers: {
	webhookSecret: {name: "github-webhook", key: "secret"}
	githubToken: {name: "github-token", key: "token"}
}

_cosignPublicKey: """
	-----BEGIN PUBLIC KEY-----
	MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGQGN68p/zcLwzJKdczuHHWj23Nez
	tsjNvn8HQ2lGHPC4yENUzWRUQiBXPVi/dBlZu3FaT77QhzKBFDPTb1aOMA==
	-----END PUBLIC KEY-----
	"""
` + gateEgress + `
// _deployEnvironments are where every service is deployed.
_deployEnvironments: ["dev", "test", "qa", "staging", "preprod", "prod"]

// #Service is one service of a team.
#Service: {
	team: string
	dir:  string
	// goVersions, when more than one, fan the tests out with a matrix.
	goVersions: [...string]
	replicas: int
	// digest is the image's digest.
	digest: string
}

// _servicePipeline is the pipeline of a service.
_servicePipeline: {
	_name: string
	_svc:  #Service
	description: "Test and build \(_name) (\(_svc.dir))."
	labels: {"acme.example/team": _svc.team, "app.kubernetes.io/component": _name}
	timeout: "45m"
	params: {
		"git-url": {}
		"git-revision": default: "main"
	}
	workspaces: source: {}
	tasks: {
		clone: {
			uses: "git-clone"
			params: {url: "$(params.git-url)", revision: "$(params.git-revision)"}
			workspaces: output: "source"
		}
		lint: {uses: "go-lint", after: ["clone"], workspaces: source: "source"}
		if len(_svc.goVersions) > 1 {
			test: {
				uses: "go-test"
				after: ["clone"]
				workspaces: source: {from: "source", subPath: _svc.dir}
				matrix: params: "go-version": _svc.goVersions
			}
		}
		if len(_svc.goVersions) <= 1 {
			test: {
				uses: "go-test"
				after: ["clone"]
				workspaces: source: {from: "source", subPath: _svc.dir}
			}
		}
		build: {
			uses: "image-build"
			after: ["test", "lint"]
			params: {image: "ghcr.io/acme/\(_name):$(tasks.clone.results.commit)", context: _svc.dir}
			workspaces: source: "source"
		}
	}
	results: "image-digest": value: "$(tasks.build.results.IMAGE_DIGEST)"
	// Every image is scanned, has an SBOM and is signed before anything
	// uses it; the environments from staging on admit only signed images.
	gates: {
		image:               "ghcr.io/acme/\(_name)"
		registryCredentials: "ghcr-push"
		scan: {failOn: "high", database: _trivyDatabase}
		sbom: format:        "spdx-json"
		sign: {
			key: secret: "cosign"
			publicKey: _cosignPublicKey
			// Private images: no public transparency log.
			rekor: ""
			admit: ["staging", "preprod", "prod"]
		}
	}
	on: {
		push: {branches: ["main"], paths: ["\(_svc.dir)/**"]}
		pullRequest: branches: ["main"]
		workspaces: source: volumeClaimTemplate: storage: "1Gi"
	}
}

// _serviceApp is the deployment of a service.
_serviceApp: {
	_name: string
	_svc:  #Service
	team:  _svc.team
	source: {repoURL: "https://github.com/acme/platform.git", path: "\(_svc.dir)/deploy"}
	image: {repository: "ghcr.io/acme/\(_name)", digest: _svc.digest}
	replicas: _svc.replicas
	resources: requests: {cpu: "100m", memory: "128Mi"}
	environments: {
		for e in _deployEnvironments {(e): {}}
		prod: replicas: 2 * _svc.replicas
	}
}
`

// Teams returns a monorepo of n services the way a platform team writes one
// (see Monorepo for the other shape): one file per team of TeamSize
// services, whose pipelines and apps a comprehension stamps from the
// team's service list and the platform file's templates; a shared task
// library; matrix builds on every fifth service; a CI environment and six
// deployment environments in promotion order; an AppProject per team; push
// and pull-request triggers on every pipeline; gates on every pipeline (a
// scan, an SBOM and a signature production and the two environments
// before it admit). The result maps file names to their contents. Quotas
// grow with n so that the capacity checks pass; it builds without a
// finding under the policy packs (TestGeneratedShapes).
func Teams(n int) map[string]string {
	files := map[string]string{}
	files["platform.cue"] = teamsLibrary + fmt.Sprintf(`
_quota: {requests: {cpu: "%[1]d", memory: "%[2]dGi"}, pods: %[3]d, pipelineRuns: %[4]d}
`, 8+2*n, 16+4*n, 20+8*n, 2*n)
	for t := 0; t*TeamSize < n; t++ {
		var sb strings.Builder
		team := fmt.Sprintf("team-%03d", t)
		fmt.Fprintf(&sb, `package platform

// The services of %[1]s. Adding one is one line.
_%[2]s: [Name=string]: #Service & {team: %[1]q, dir: "services/%[1]s/\(Name)"}
_%[2]s: {
`, team, strings.ReplaceAll(team, "-", "_"))
		for i := t * TeamSize; i < n && i < (t+1)*TeamSize; i++ {
			versions := `["1.25"]`
			if i%5 == 0 {
				versions = `["1.24", "1.25"]`
			}
			fmt.Fprintf(&sb, "\t\"svc-%04d\": {goVersions: %s, replicas: %d, digest: \"sha256:%x\"}\n",
				i, versions, 1+i%3, sha256.Sum256(fmt.Appendf(nil, "svc-%04d", i)))
		}
		fmt.Fprintf(&sb, `}

teams: %[1]q: {
	description: "Services of %[1]s."
	roles: deployers: {groups: ["acme:%[1]s"], actions: ["get", "sync"]}
}

pipelines: {for name, svc in _%[2]s {(name): _servicePipeline & {_name: name, _svc: svc}}}
apps: {for name, svc in _%[2]s {(name): _serviceApp & {_name: name, _svc: svc}}}
`, team, strings.ReplaceAll(team, "-", "_"))
		files[team+".cue"] = sb.String()
	}
	return files
}
