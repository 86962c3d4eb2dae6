package argo_test

import (
	"testing"

	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets/argo"
)

// TestBuild runs the Argo CD target's build cases (testdata/build).
func TestBuild(t *testing.T) { targettest.Run(t, "testdata/build", argo.Name) }
