package policies

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// Waiver check ids: findings about waivers themselves.
const (
	WaiverExpired = "pipec/waiver/expired"
	WaiverUnknown = "pipec/waiver/unknown-check"
	WaiverUnused  = "pipec/waiver/unused"
	WaiverInvalid = "pipec/waiver/invalid"
)

// WaiverRules describe the findings about waivers.
var WaiverRules = []diag.Rule{
	{ID: WaiverExpired, Severity: diag.Error, Title: "A waiver past its expiry date", Fix: "fix the finding, or renew the waiver with a new date and a reason that still holds"},
	{ID: WaiverInvalid, Severity: diag.Error, Title: "A waiver without a reason, with an invalid expiry date, or of a configuration error", Fix: "give the reason and who accepted it, and expires: \"YYYY-MM-DD\"; fix configuration errors instead"},
	{ID: WaiverUnknown, Severity: diag.Warning, Title: "A waiver of a check no pack in use has", Fix: "check the id with `pipec explain`"},
	{ID: WaiverUnused, Severity: diag.Info, Title: "A waiver that suppresses nothing", Fix: "remove it"},
}

// WaiverStatus reports what a waiver did.
type WaiverStatus struct {
	Check   string    `json:"check"`
	Scope   string    `json:"scope,omitempty"`
	Reason  string    `json:"reason"`
	Expires string    `json:"expires"`
	Pos     model.Pos `json:"-"`
	Where   string    `json:"where"`
	// Status is active, expired or unused.
	Status string `json:"status"`
	// Suppressed counts the findings it suppressed.
	Suppressed int `json:"suppressed"`
}

// covers reports whether a waiver's scope contains path.
func covers(w *model.Waiver, path model.Path) bool {
	scope := w.Scope
	if scope == "" || scope == path || w.OnField && scope.Parent() == path {
		return true
	}
	s, p := string(scope), string(path)
	return strings.HasPrefix(p, s+".") || strings.HasPrefix(p, s+"[")
}

// WaiverField is the path of a waiver's field name (expires, reason,
// check), where a finding about it points, for a waiver of
// policy.waivers; an @waive attribute's findings are at its field.
func WaiverField(w *model.Waiver, name string) model.Path {
	if w.OnField {
		return w.Path
	}
	return w.Path.Field(name)
}

// isUnder reports whether path is at or below p.
func isUnder(path, p model.Path) bool {
	s, q := string(p), string(path)
	return p == "" || q == s || strings.HasPrefix(q, s+".") || strings.HasPrefix(q, s+"[")
}

// Suppressed is a finding a waiver suppressed.
type Suppressed struct {
	Finding diag.Diagnostic
	Waiver  *model.Waiver
}

// ApplyWaivers removes the findings active waivers cover and adds findings
// about the waivers: an expired waiver is a deny finding (and suppresses
// nothing), one naming an unknown check a warning, one that suppressed
// nothing an info. today is YYYY-MM-DD; a waiver applies through its
// expiry date.
func ApplyWaivers(findings diag.List, waivers []*model.Waiver, known map[string]bool, today string, src model.SourceMap) (diag.List, []WaiverStatus, []Suppressed) {
	var out diag.List
	var suppressed []Suppressed
	statuses := make([]WaiverStatus, len(waivers))
	active := make([]bool, len(waivers))
	for i, w := range waivers {
		pos := src.Lookup(w.Path)
		statuses[i] = WaiverStatus{Check: w.Check, Scope: string(w.Scope), Reason: w.Reason, Expires: w.Expires, Pos: pos, Where: pos.String(), Status: "active"}
		if _, err := time.Parse(time.DateOnly, w.Expires); err != nil {
			at := WaiverField(w, "expires")
			out = append(out, diag.Diagnostic{Severity: diag.Error, Pos: src.Lookup(at), Path: at, ID: WaiverInvalid, Category: "waivers", Standard: "pipec", Source: "policy",
				Message: fmt.Sprintf("waiver for %s has an invalid expiry date %q", w.Check, w.Expires), Hint: "use YYYY-MM-DD"})
			statuses[i].Status = "invalid"
			continue
		}
		if strings.TrimSpace(w.Reason) == "" {
			at := WaiverField(w, "reason")
			out = append(out, diag.Diagnostic{Severity: diag.Error, Pos: src.Lookup(at), Path: at, ID: WaiverInvalid, Category: "waivers", Standard: "pipec", Source: "policy",
				Message: fmt.Sprintf("waiver for %s gives no reason", w.Check), Hint: "say why the finding is accepted, and who accepted it"})
			statuses[i].Status = "invalid"
			continue
		}
		if w.Expires < today {
			at := WaiverField(w, "expires")
			out = append(out, diag.Diagnostic{Severity: diag.Error, Pos: src.Lookup(at), Path: at, ID: WaiverExpired, Category: "waivers", Standard: "pipec", Source: "policy",
				Message: fmt.Sprintf("waiver for %s expired on %s (%s)", w.Check, w.Expires, w.Reason),
				Hint:    "fix the finding, or renew the waiver with a new date and a reason that still holds"})
			statuses[i].Status = "expired"
			continue
		}
		if !known[w.Check] {
			at := WaiverField(w, "check")
			hint := "check the id with `pipec explain`; ids look like pipec/<pack>/<check> or pipec/config/<rule>"
			ids := make([]string, 0, len(known))
			for id := range known {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if s := diag.Suggest(w.Check, ids); s != "" {
				hint = fmt.Sprintf("did you mean %s?", s)
			}
			out = append(out, diag.Diagnostic{Severity: diag.Warning, Pos: src.Lookup(at), Path: at, ID: WaiverUnknown, Category: "waivers", Standard: "pipec", Source: "policy",
				Message: fmt.Sprintf("waiver names %s, which neither a pack in use nor a configuration warning has", w.Check),
				Hint:    hint})
		}
		active[i] = true
	}
	for _, f := range findings {
		waived := false
		// A finding about a value written elsewhere (a step's setting
		// from defaults.step, say) is reported there, and a waiver there
		// covers it too.
		var origin model.Path
		if len(waivers) > 0 {
			if o, _ := src.Resolve(f.Path); o != f.Path && !isUnder(f.Path, o) {
				origin = o
			}
		}
		for i, w := range waivers {
			if active[i] && f.ID == w.Check && (covers(w, f.Path) || origin != "" && covers(w, origin)) {
				statuses[i].Suppressed++
				if !waived {
					suppressed = append(suppressed, Suppressed{Finding: f, Waiver: w})
				}
				waived = true
			}
		}
		if !waived {
			out = append(out, f)
		}
	}
	for i, w := range waivers {
		if active[i] && statuses[i].Suppressed == 0 && known[w.Check] {
			statuses[i].Status = "unused"
			out = append(out, diag.Diagnostic{Severity: diag.Info, Pos: statuses[i].Pos, Path: w.Path, ID: WaiverUnused, Category: "waivers", Standard: "pipec", Source: "policy",
				Message: fmt.Sprintf("waiver for %s suppresses nothing", w.Check), Hint: "remove it"})
		}
	}
	return out.Sort(), statuses, suppressed
}
