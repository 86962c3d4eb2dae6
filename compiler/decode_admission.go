package compiler

import "github.com/pipec/pipec/model"

// environmentAdmission decodes environments.<env>.admission; nil if unset.
func environmentAdmission(n node) *model.EnvironmentAdmission {
	if !n.exists() {
		return nil
	}
	a := &model.EnvironmentAdmission{Allow: []model.AllowEntry{}, Path: n.path}
	n.field("allow").list(func(_ int, c node) {
		a.Allow = append(a.Allow, model.AllowEntry{Image: c.str(), Path: c.path})
	})
	return a
}
