package scaling_test

import (
	"testing"

	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets/scaling"
)

// TestBuild runs the scaling target's build cases (testdata/build).
func TestBuild(t *testing.T) { targettest.Run(t, "testdata/build", scaling.Name) }
