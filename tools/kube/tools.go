//go:build tools

// Package tools pins the Kubernetes control-plane binaries that pipec's
// integration tests run: kube-apiserver for the API server tests, and
// kube-controller-manager and kube-scheduler for the end-to-end scale test
// (hack/e2e-scale.sh). It is a separate module so that the main module does
// not depend on k8s.io/kubernetes.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
