package flux_test

import (
	"testing"

	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets/flux"
)

// TestBuild runs the Flux target's build cases (testdata/build).
func TestBuild(t *testing.T) { targettest.Run(t, "testdata/build", flux.Name) }
