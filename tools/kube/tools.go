//go:build tools

// Package tools pins the Kubernetes control-plane binaries that pipec's
// integration tests run (kube-apiserver). It is a separate module so that the
// main module does not depend on k8s.io/kubernetes.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
