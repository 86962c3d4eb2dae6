package tekton_test

import (
	"testing"

	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets/tekton"
)

// TestBuild runs the Tekton target's build cases (testdata/build).
func TestBuild(t *testing.T) { targettest.Run(t, "testdata/build", tekton.Name) }
