package triggers

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pipec/pipec/model"
)

// zeroSHA is the "after" of a push that deletes a branch or tag.
const zeroSHA = "0000000000000000000000000000000000000000"

// Event describes one kind of webhook event of one provider: how to
// recognise it, and where the run's values are in its payload.
type Event struct {
	Provider string
	// Kind is push, tag or pull-request.
	Kind string
	// HeaderEvents are the values of the provider's event header
	// (X-GitHub-Event, X-Gitlab-Event) for this kind.
	HeaderEvents []string
	// Bindings map event fields to TriggerBinding values.
	Bindings map[string]string
}

// EventHeader is the header a provider names the event in.
func EventHeader(provider string) string {
	if provider == model.GitLab {
		return "X-Gitlab-Event"
	}
	return "X-GitHub-Event"
}

// Events are the events pipec handles, by provider and kind.
var Events = map[string]map[string]Event{
	model.GitHub: {
		model.EventPush: {Provider: model.GitHub, Kind: model.EventPush, HeaderEvents: []string{"push"}, Bindings: map[string]string{
			"url": "$(body.repository.clone_url)", "revision": "$(body.after)", "branch": "$(extensions.branch)",
			"author": "$(body.sender.login)", "repository": "$(body.repository.full_name)",
		}},
		model.EventTag: {Provider: model.GitHub, Kind: model.EventTag, HeaderEvents: []string{"push"}, Bindings: map[string]string{
			"url": "$(body.repository.clone_url)", "revision": "$(body.after)", "tag": "$(extensions.tag)",
			"author": "$(body.sender.login)", "repository": "$(body.repository.full_name)",
		}},
		model.EventPullRequest: {Provider: model.GitHub, Kind: model.EventPullRequest, HeaderEvents: []string{"pull_request"}, Bindings: map[string]string{
			"url": "$(body.pull_request.head.repo.clone_url)", "revision": "$(body.pull_request.head.sha)",
			"branch": "$(body.pull_request.head.ref)", "pr-number": "$(body.number)",
			"author": "$(body.pull_request.user.login)", "repository": "$(body.repository.full_name)",
		}},
	},
	model.GitLab: {
		model.EventPush: {Provider: model.GitLab, Kind: model.EventPush, HeaderEvents: []string{"Push Hook"}, Bindings: map[string]string{
			"url": "$(body.project.git_http_url)", "revision": "$(body.checkout_sha)", "branch": "$(extensions.branch)",
			"author": "$(body.user_username)", "repository": "$(body.project.path_with_namespace)",
		}},
		model.EventTag: {Provider: model.GitLab, Kind: model.EventTag, HeaderEvents: []string{"Tag Push Hook"}, Bindings: map[string]string{
			"url": "$(body.project.git_http_url)", "revision": "$(body.checkout_sha)", "tag": "$(extensions.tag)",
			"author": "$(body.user_username)", "repository": "$(body.project.path_with_namespace)",
		}},
		model.EventPullRequest: {Provider: model.GitLab, Kind: model.EventPullRequest, HeaderEvents: []string{"Merge Request Hook"}, Bindings: map[string]string{
			"url": "$(body.object_attributes.source.git_http_url)", "revision": "$(body.object_attributes.last_commit.id)",
			"branch": "$(body.object_attributes.source_branch)", "pr-number": "$(body.object_attributes.iid)",
			"author": "$(body.user.username)", "repository": "$(body.project.path_with_namespace)",
		}},
	},
}

// BindingName is the name of the shared TriggerBinding of an event.
func BindingName(provider, kind string) string { return "pipec-" + provider + "-" + kind }

// Overlay is a CEL overlay: an extension computed from the event.
type Overlay struct {
	Key        string
	Expression string
}

// Filter is the CEL filter and overlays of one trigger.
type Filter struct {
	Expression string
	Overlays   []Overlay
}

// celString quotes s as a CEL string literal.
func celString(s string) string {
	return "'" + celEscaper.Replace(s) + "'"
}

// celEscaper escapes a CEL single-quoted string's backslashes and quotes.
var celEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// globRE converts a glob (*, ** and ?) to an anchored RE2 expression.
func globRE(glob string) string {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; {
		case c == '*' && i+1 < len(glob) && glob[i+1] == '*':
			b.WriteString(".*")
			i++
			if i+1 < len(glob) && glob[i+1] == '/' {
				i++ // "**/" also matches nothing
				b.WriteString("/?")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return b.String()
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?") }

// matchAny is a CEL condition that the string expression x matches one of
// the names or globs, each with prefix prepended.
func matchAny(x, prefix string, patterns []string) string {
	var exact, conds []string
	for _, p := range patterns {
		if isGlob(p) {
			conds = append(conds, fmt.Sprintf("%s.matches(%s)", x, celString(globRE(prefix+p))))
		} else {
			exact = append(exact, celString(prefix+p))
		}
	}
	if len(exact) == 1 {
		conds = append([]string{x + " == " + exact[0]}, conds...)
	} else if len(exact) > 1 {
		conds = append([]string{x + " in [" + strings.Join(exact, ", ") + "]"}, conds...)
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return "(" + strings.Join(conds, " || ") + ")"
}

// pathCondition is a CEL condition that one of the files in the CEL list
// expression files is under one of the paths (a directory when it ends in
// "/", else a glob or an exact file).
func pathCondition(files string, paths []string) string {
	var conds []string
	for _, p := range paths {
		switch {
		case isGlob(p):
			conds = append(conds, fmt.Sprintf("f.matches(%s)", celString(globRE(p))))
		case strings.HasSuffix(p, "/"):
			conds = append(conds, fmt.Sprintf("f.startsWith(%s)", celString(p)))
		default:
			conds = append(conds, fmt.Sprintf("(f == %s || f.startsWith(%s))", celString(p), celString(p+"/")))
		}
	}
	return fmt.Sprintf("%s.exists(f, %s)", files, strings.Join(conds, " || "))
}

// gitlabChangedFiles is the files a GitLab push touched, from its commits.
const gitlabChangedFiles = "body.commits.map(c, c.added + c.modified + c.removed).flatten()"

// SameRepository is the CEL condition that a pull (merge) request comes
// from a branch of the repository itself, not from a fork. GitHub names
// the head's repository and the repository the webhook belongs to (the
// base) by owner/name, which is unique, and a fork has an owner/name of
// its own; GitLab gives the IDs of the source and target projects. When a
// fork was deleted GitHub sends a null head repository, on which the
// condition and its negation both fail to evaluate, so neither trigger
// starts a run; GitLab sends a null source project ID, which equals no ID,
// so the request counts as one from a fork. Neither gets credentials.
func SameRepository(provider string) string {
	if provider == model.GitLab {
		return "body.object_attributes.source_project_id == body.object_attributes.target_project_id"
	}
	return "body.pull_request.head.repo.full_name == body.repository.full_name"
}

// FilterFor builds the CEL filter of a pipeline's trigger for one event
// kind. GitHub path filters read extensions.changed_files, which the GitHub
// interceptor adds (addChangedFiles). Unless forks are trusted, pull
// requests must come from the repository itself: ForkFilter has those
// from forks.
func FilterFor(provider, kind string, on *model.On) Filter {
	origin := ""
	if kind == model.EventPullRequest && on.PullRequest.Forks != model.ForksTrusted {
		origin = SameRepository(provider)
	}
	return filterFor(provider, kind, on, origin)
}

// ForkFilter builds the CEL filter of the trigger that starts a pipeline's
// runs for pull requests from forks: the pull request filter, with the
// origin condition negated.
func ForkFilter(provider string, on *model.On) Filter {
	return filterFor(provider, model.EventPullRequest, on, "!("+SameRepository(provider)+")")
}

// EventCondition is the CEL condition that a delivery is an event of a
// kind: its provider's event header names it. A Trigger's filter starts
// with it, since the provider's interceptor, shared by the provider's
// trigger group, lets every kind through.
func EventCondition(provider, kind string) string {
	events := Events[provider][kind].HeaderEvents
	if len(events) == 1 {
		return "header.match(" + celString(EventHeader(provider)) + ", " + celString(events[0]) + ")"
	}
	quoted := make([]string, len(events))
	for i, e := range events {
		quoted[i] = celString(e)
	}
	return "header.canonical(" + celString(EventHeader(provider)) + ") in [" + strings.Join(quoted, ", ") + "]"
}

// filterFor builds a filter; origin, if set, is the condition on where a
// pull request comes from.
func filterFor(provider, kind string, on *model.On, origin string) Filter {
	conds := []string{EventCondition(provider, kind)}
	var overlays []Overlay
	switch {
	case provider == model.GitHub && kind == model.EventPush:
		conds = append(conds, "body.deleted == false", matchAny("body.ref", "refs/heads/", on.Push.Branches))
		overlays = append(overlays, Overlay{"branch", "body.ref.replace('refs/heads/', '')"})
		if len(on.Push.Paths) > 0 {
			conds = append(conds, pathCondition("extensions.changed_files.split(',')", on.Push.Paths))
		}
	case provider == model.GitHub && kind == model.EventTag:
		conds = append(conds, "body.deleted == false", matchAny("body.ref", "refs/tags/", on.Tags))
		overlays = append(overlays, Overlay{"tag", "body.ref.replace('refs/tags/', '')"})
	case provider == model.GitHub && kind == model.EventPullRequest:
		conds = append(conds, githubActions(on.PullRequest.Events), matchAny("body.pull_request.base.ref", "", on.PullRequest.Branches))
		if origin != "" {
			conds = append(conds, origin)
		}
		if len(on.PullRequest.Paths) > 0 {
			conds = append(conds, pathCondition("extensions.changed_files.split(',')", on.PullRequest.Paths))
		}
	case provider == model.GitLab && kind == model.EventPush:
		conds = append(conds, "body.after != "+celString(zeroSHA), matchAny("body.ref", "refs/heads/", on.Push.Branches))
		overlays = append(overlays, Overlay{"branch", "body.ref.replace('refs/heads/', '')"})
		if len(on.Push.Paths) > 0 {
			conds = append(conds, pathCondition(gitlabChangedFiles, on.Push.Paths))
		}
	case provider == model.GitLab && kind == model.EventTag:
		conds = append(conds, "body.after != "+celString(zeroSHA), matchAny("body.ref", "refs/tags/", on.Tags))
		overlays = append(overlays, Overlay{"tag", "body.ref.replace('refs/tags/', '')"})
	case provider == model.GitLab && kind == model.EventPullRequest:
		conds = append(conds, gitlabActions(on.PullRequest.Events), matchAny("body.object_attributes.target_branch", "", on.PullRequest.Branches))
		if origin != "" {
			conds = append(conds, origin)
		}
	}
	if on.Filter != "" {
		conds = append(conds, "("+on.Filter+")")
	}
	return Filter{Expression: strings.Join(conds, " && "), Overlays: overlays}
}

// githubActions is the CEL condition for pull request events on GitHub.
func githubActions(events []string) string {
	var actions, conds []string
	for _, e := range events {
		if e == "merged" {
			conds = append(conds, "(body.action == 'closed' && body.pull_request.merged == true)")
			continue
		}
		actions = append(actions, celString(e))
	}
	if len(actions) > 0 {
		conds = append([]string{"body.action in [" + strings.Join(actions, ", ") + "]"}, conds...)
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return "(" + strings.Join(conds, " || ") + ")"
}

// gitlabActions is the CEL condition for merge request events on GitLab.
// An "update" only counts as new commits ("synchronize") when it carries
// oldrev.
func gitlabActions(events []string) string {
	var conds []string
	simple := map[string]string{"opened": "open", "reopened": "reopen", "closed": "close", "merged": "merge"}
	var actions []string
	for _, e := range events {
		switch e {
		case "synchronize":
			conds = append(conds, "(body.object_attributes.action == 'update' && has(body.object_attributes.oldrev))")
		case "ready_for_review":
			conds = append(conds, "(body.object_attributes.action == 'update' && has(body.changes.draft) && body.changes.draft.current == false)")
		default:
			actions = append(actions, celString(simple[e]))
		}
	}
	slices.Sort(actions)
	if len(actions) > 0 {
		conds = append([]string{"body.object_attributes.action in [" + strings.Join(actions, ", ") + "]"}, conds...)
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return "(" + strings.Join(conds, " || ") + ")"
}

// Kinds lists the event kinds a pipeline's `on` asks for.
func Kinds(on *model.On) []string {
	var kinds []string
	if on.Push != nil {
		kinds = append(kinds, model.EventPush)
	}
	if len(on.Tags) > 0 {
		kinds = append(kinds, model.EventTag)
	}
	if on.PullRequest != nil {
		kinds = append(kinds, model.EventPullRequest)
	}
	return kinds
}

// PayloadFields are the top-level fields of the webhook payloads of the
// events pipec triggers on (GitHub's push and pull_request, GitLab's Push
// Hook, Tag Push Hook and Merge Request Hook), from the providers'
// documentation: a filter that reads body.<field> can only mean one of
// them.
var PayloadFields = map[string][]string{
	model.GitHub: {
		"action", "after", "assignee", "base_ref", "before", "changes", "commits", "compare", "created", "deleted",
		"enterprise", "forced", "head_commit", "installation", "label", "number", "organization", "pull_request",
		"pusher", "reason", "ref", "repository", "requested_reviewer", "requested_team", "sender",
	},
	model.GitLab: {
		"after", "assignees", "before", "changes", "checkout_sha", "commits", "event_name", "event_type", "labels",
		"message", "object_attributes", "object_kind", "project", "project_id", "ref", "ref_protected", "repository",
		"reviewers", "total_commits_count", "user", "user_avatar", "user_email", "user_id", "user_name", "user_username",
	},
}

var bodyFieldRE = regexp.MustCompile(`\bbody(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"]([^'"]+)['"]\s*\])`)

// BodyFields returns the top-level payload fields a CEL expression reads
// through body, each once, in order.
func BodyFields(expr string) []string {
	var out []string
	for _, m := range bodyFieldRE.FindAllStringSubmatch(expr, -1) {
		f := m[1] + m[2]
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
