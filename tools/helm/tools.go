//go:build tools

// Package tools pins the helm command, which CI and the chart tests build
// from its Go module (helm lint, helm template).
package tools

import _ "helm.sh/helm/v3/cmd/helm"
