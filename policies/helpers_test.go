package policies

import (
	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

func toDiags(fs []struct{ id, path string }) diag.List {
	var out diag.List
	for _, f := range fs {
		out = append(out, diag.Diagnostic{Severity: diag.Error, ID: f.id, Path: model.Path(f.path), Message: "m"})
	}
	return out
}
