package monitoring_test

import (
	"testing"

	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets/monitoring"
)

// TestBuild runs the monitoring target's build cases (testdata/build).
func TestBuild(t *testing.T) { targettest.Run(t, "testdata/build", monitoring.Name) }
