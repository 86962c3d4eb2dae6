package compiler

import (
	"slices"
	"strings"

	"github.com/pipec/pipec/model"
)

// orderEnv orders a step's variables the way Kubernetes needs them: it
// expands $(NAME) in a value only when NAME is defined earlier in the
// list, so a variable comes after the ones its value reads; otherwise
// they stay in name order, which keeps the output the same whatever the
// order of the CUE. Variables that read each other in a cycle cannot all
// be expanded; they stay in name order.
func orderEnv(env []*model.EnvVar) []*model.EnvVar {
	slices.SortFunc(env, func(a, b *model.EnvVar) int { return strings.Compare(a.Name, b.Name) })
	reads := make([][]string, len(env))
	deps := false
	for i, e := range env {
		for _, r := range envRefs(e.Value) {
			if r != e.Name && slices.ContainsFunc(env, func(o *model.EnvVar) bool { return o.Name == r }) {
				reads[i] = append(reads[i], r)
				deps = true
			}
		}
	}
	if !deps {
		return env
	}
	out := make([]*model.EnvVar, 0, len(env))
	done := map[string]bool{}
	placed := make([]bool, len(env))
	for len(out) < len(env) {
		next := -1
		for i := range env {
			if !placed[i] && !slices.ContainsFunc(reads[i], func(r string) bool { return !done[r] }) {
				next = i
				break
			}
		}
		if next < 0 { // a cycle: the first remaining by name
			next = slices.Index(placed, false)
		}
		placed[next], done[env[next].Name] = true, true
		out = append(out, env[next])
	}
	return out
}

// envRefs are the names a Kubernetes env value reads as $(NAME); $$ is an
// escaped $.
func envRefs(v string) []string {
	var names []string
	for i := 0; i < len(v); i++ {
		if v[i] != '$' || i+1 >= len(v) {
			continue
		}
		switch v[i+1] {
		case '$':
			i++
		case '(':
			if end := strings.IndexByte(v[i+2:], ')'); end >= 0 {
				names = append(names, v[i+2:i+2+end])
				i += 2 + end
			}
		}
	}
	return names
}
