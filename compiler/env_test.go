package compiler

import (
	"slices"
	"strings"
	"testing"

	"github.com/pipec/pipec/model"
)

func TestOrderEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"B": "b", "A": "a"}, "A B"},
		{map[string]string{"A_PATH": "$(Z_BASE)/bin", "Z_BASE": "/opt"}, "Z_BASE A_PATH"},
		{map[string]string{"A": "$(B)$(C)", "B": "$(C)", "C": "c", "D": "d"}, "C B A D"},
		// $$ escapes: $$(B) is the literal text $(B), not a read.
		{map[string]string{"A": "$$(B)", "B": "b"}, "A B"},
		// Tekton's own references and unknown names are not variables.
		{map[string]string{"A": "$(params.x) $(HOME)", "B": "b"}, "A B"},
		// A cycle cannot be expanded either way: name order.
		{map[string]string{"A": "$(B)", "B": "$(A)", "C": "$(A)"}, "A B C"},
		{map[string]string{"A": "$(A)"}, "A"},
	} {
		var env []*model.EnvVar
		for n, v := range tc.env {
			env = append(env, &model.EnvVar{Name: n, Value: v})
		}
		var got []string
		for _, e := range orderEnv(env) {
			got = append(got, e.Name)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%v: got %v, want %s", tc.env, got, tc.want)
		}
	}
}

func TestEnvRefs(t *testing.T) {
	for v, want := range map[string][]string{
		"$(A)/$(B)": {"A", "B"}, "$$(A)": nil, "$$$(A)": {"A"}, "$(A": nil, "x$": nil, "$(": nil,
	} {
		if got := envRefs(v); !slices.Equal(got, want) {
			t.Errorf("envRefs(%q) = %q, want %q", v, got, want)
		}
	}
}
