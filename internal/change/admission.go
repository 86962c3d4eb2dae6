package change

import "slices"

// onlyAdmittedRule is the rule of the admission policies that refuses the
// images an environment does not admit (admission.OnlyAdmittedRule; not
// imported, to keep this package free of targets). Its deny conditions
// are the gated repositories' patterns, then the patterns admitted
// unsigned: the environment's admission.allow and pipec's own images.
const onlyAdmittedRule = "only-admitted-images"

// unsignedAdded returns the patterns the new admission policy admits
// unsigned that the old one did not, in order.
func unsignedAdded(old, new any) []string {
	before := unsignedPatterns(old)
	var out []string
	for _, p := range unsignedPatterns(new) {
		if !slices.Contains(before, p) {
			out = append(out, p)
		}
	}
	return out
}

// unsignedPatterns reads the patterns an admission policy admits
// unsigned: the second deny condition of its only-admitted-images rule.
func unsignedPatterns(policy any) []string {
	obj, _ := policy.(map[string]any)
	spec, _ := obj["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		if rule["name"] != onlyAdmittedRule {
			continue
		}
		validate, _ := rule["validate"].(map[string]any)
		foreach, _ := validate["foreach"].([]any)
		var out []string
		for _, fe := range foreach {
			f, _ := fe.(map[string]any)
			deny, _ := f["deny"].(map[string]any)
			conds, _ := deny["conditions"].(map[string]any)
			all, _ := conds["all"].([]any)
			if len(all) < 2 {
				continue
			}
			c, _ := all[1].(map[string]any)
			values, _ := c["value"].([]any)
			for _, v := range values {
				if s, ok := v.(string); ok {
					out = append(out, s)
				}
			}
		}
		return out
	}
	return nil
}
