package compiler

import (
	"fmt"
	"strings"
)

// GenerateConfig returns a configuration with n pipelines written the way
// people write them: each declared separately, sharing a task library.
func GenerateConfig(n int, triggers bool) string {
	var sb strings.Builder
	sb.WriteString(`package ci

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
`)
	for i := range n {
		fmt.Fprintf(&sb, `
pipelines: "service-%03d": {
	params: {"git-url": {}, "git-revision": default: "main"}
	workspaces: source: {}
	tasks: {
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
}
`, i)
		if triggers {
			fmt.Fprintf(&sb, "pipelines: \"service-%03d\": on: {push: paths: [\"services/%03d/\"], pullRequest: {}}\n", i, i)
		}
	}
	if triggers {
		sb.WriteString("triggers: webhookSecret: {name: \"hook\", key: \"secret\"}\n")
	}
	return sb.String()
}
