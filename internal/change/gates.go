package change

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// labelGate is the label the Tekton target puts on the tasks the gates add
// (tekton.LabelGate; not imported, to keep this package free of targets).
const labelGate = "pipec.dev/gate"

var removedTaskRE = regexp.MustCompile(`^spec\.(tasks|finally)\[name=([^\]]+)\]$`)

// notices says what a reviewer must not miss in a change: a supply-chain
// gate that goes away or stops failing the run, and an admission policy
// that no longer verifies an environment's images.
func notices(c Change) []string {
	var out []string
	switch {
	case c.APIKind == "ClusterPolicy" && c.Kind == Removed:
		out = append(out, fmt.Sprintf("admission policy %s removed: the images of its environment are no longer verified", c.Name))
	case c.APIKind == "ClusterPolicy" && c.Kind == Changed:
		for _, f := range c.Fields {
			if strings.HasPrefix(f.Path, "spec.rules[name=") && strings.Count(f.Path, "]") == 1 && f.New == "" {
				out = append(out, fmt.Sprintf("admission rule %s removed: its images are no longer verified", strings.TrimSuffix(strings.TrimPrefix(f.Path, "spec.rules[name="), "]")))
			}
		}
	case c.APIKind == "Pipeline" && c.Kind == Changed:
		for _, f := range c.Fields {
			if m := removedTaskRE.FindStringSubmatch(f.Path); m != nil && f.New == "" {
				if gate := gateOf(f.Old); gate != "" {
					out = append(out, fmt.Sprintf("supply-chain gate removed: %s (task %s)", gate, m[2]))
				}
			}
			if strings.HasSuffix(f.Path, "].onError") && f.New == `"continue"` && strings.Contains(f.Path, "[name=scan-image]") {
				out = append(out, "the vulnerability scan no longer fails the run (onError: continue)")
			}
		}
	}
	return out
}

// gateOf returns the gate of a pipeline task given as JSON, or "".
func gateOf(task string) string {
	var t struct {
		TaskSpec struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		} `json:"taskSpec"`
	}
	if json.Unmarshal([]byte(task), &t) != nil {
		return ""
	}
	return t.TaskSpec.Metadata.Labels[labelGate]
}
