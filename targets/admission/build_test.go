package admission_test

import (
	"testing"

	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets/admission"
)

// TestBuild runs the admission target's build cases (testdata/build).
func TestBuild(t *testing.T) { targettest.Run(t, "testdata/build", admission.Name) }
