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
			scan := strings.Contains(f.Path, "[name=scan-image]")
			if scan && strings.HasSuffix(f.Path, "[name=THRESHOLD].value") && severityRank(f.New) > severityRank(f.Old) && f.Old != "" {
				out = append(out, fmt.Sprintf("the vulnerability scan fails on fewer findings (failOn %s -> %s)", strings.Trim(f.Old, `"`), strings.Trim(f.New, `"`)))
			}
			if scan && strings.Contains(f.Path, ".steps[") && strings.HasSuffix(f.Path, "].image") && f.Old != "" && f.New != "" {
				out = append(out, fmt.Sprintf("the vulnerability scanner's image changed (%s -> %s): review what it runs", strings.Trim(f.Old, `"`), strings.Trim(f.New, `"`)))
			}
		}
	}
	if len(c.unsignedAdded) > 0 {
		out = append(out, fmt.Sprintf("admission policy %s now admits unsigned %s: review what may run there", c.Name, strings.Join(c.unsignedAdded, ", ")))
	}
	if c.APIKind == "ClusterPolicy" && c.Kind == Changed {
		for _, f := range c.Fields {
			for _, k := range []string{".subject", ".issuer", ".publicKeys", ".kms", ".imageReferences"} {
				if strings.Contains(f.Path, ".verifyImages") && strings.HasSuffix(f.Path, k) && f.Old != "" {
					out = append(out, fmt.Sprintf("admission policy %s: who may sign, or which images are verified, changed (%s)", c.Name, strings.TrimPrefix(k, ".")))
				}
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

// severityRank orders a scan threshold (as JSON): a higher one fails on
// fewer vulnerabilities.
func severityRank(v string) int {
	switch strings.Trim(v, `"`) {
	case "low":
		return 1
	case "medium":
		return 2
	case "high":
		return 3
	case "critical":
		return 4
	}
	return 0
}
