package triggers_test

import (
	"testing"

	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets/triggers"
)

// TestBuild runs the Tekton Triggers target's build cases (testdata/build).
func TestBuild(t *testing.T) { targettest.Run(t, "testdata/build", triggers.Name) }
