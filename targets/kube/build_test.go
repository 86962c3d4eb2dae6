package kube_test

import (
	"testing"

	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets/kube"
)

// TestBuild runs the Kubernetes target's build cases (testdata/build).
func TestBuild(t *testing.T) { targettest.Run(t, "testdata/build", kube.Name) }
