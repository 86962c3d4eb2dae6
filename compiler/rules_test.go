package compiler

import (
	"regexp"
	"testing"
)

// TestRules checks the rules `pipec explain` lists: each id is unique and
// well formed, and says what it is about and how to fix it.
func TestRules(t *testing.T) {
	idRE := regexp.MustCompile(`^pipec/(config|waiver)/[a-z]+(-[a-z]+)*$`)
	seen := map[string]bool{}
	for _, r := range Rules() {
		if !idRE.MatchString(r.ID) {
			t.Errorf("rule id %q is not pipec/config/<name>", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("rule %s is registered twice", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Fix == "" {
			t.Errorf("rule %s lacks a title or a fix", r.ID)
		}
		if got, ok := RuleOf(r.ID); !ok || got != r {
			t.Errorf("RuleOf(%s) = %v, %v", r.ID, got, ok)
		}
	}
	for src, r := range bySource {
		if !seen[r.ID] {
			t.Errorf("source %s maps to unregistered rule %s", src, r.ID)
		}
	}
}
