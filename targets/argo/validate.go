package argo

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gobwas/glob"
	"github.com/robfig/cron/v3"
)

// validateProject is Argo CD v3.3's AppProject.ValidateProject for the
// fields pipec sets, with the same rules and messages. Argo CD's API server
// and its project controller apply it; a project it rejects is never
// created. TestValidateProjectMatchesUpstream holds the two to the same
// verdicts.
func validateProject(p *AppProject) error {
	seen := map[string]bool{}
	for _, d := range p.Spec.Destinations {
		if d.Server == "!*" {
			return errors.New("server has an invalid format, '!*'")
		}
		if d.Namespace == "!*" {
			return errors.New("namespace has an invalid format, '!*'")
		}
		key := d.Server + "/" + d.Namespace
		if seen[key] {
			return fmt.Errorf("destination '%s' already added", key)
		}
		seen[key] = true
	}
	seen = map[string]bool{}
	for _, src := range p.Spec.SourceRepos {
		if src == "!*" {
			return errors.New("source repository has an invalid format, '!*'")
		}
		if seen[src] {
			return fmt.Errorf("source repository '%s' already added", src)
		}
		seen[src] = true
	}
	roles := map[string]bool{}
	// A policy's object is <project>[/<namespace>]/<application>.
	object := regexp.MustCompile(`^` + regexp.QuoteMeta(p.Name) + `(/[*\w-.]+)?/[*\w-.]+$`)
	for _, r := range p.Spec.Roles {
		if roles[r.Name] {
			return fmt.Errorf("role '%s' already exists", r.Name)
		}
		if !roleName.MatchString(r.Name) {
			return fmt.Errorf("invalid role name '%s'. Must consist of alphanumeric characters, '-' or '_', and must start and end with an alphanumeric character", r.Name)
		}
		seen = map[string]bool{}
		for _, pol := range r.Policies {
			if seen[pol] {
				return fmt.Errorf("policy '%s' already exists for role '%s'", pol, r.Name)
			}
			if err := validatePolicy(p.Name, r.Name, pol, object); err != nil {
				return err
			}
			seen[pol] = true
		}
		seen = map[string]bool{}
		for _, g := range r.Groups {
			if seen[g] {
				return fmt.Errorf("group '%s' already exists for role '%s'", g, r.Name)
			}
			if err := validateGroupName(g); err != nil {
				return err
			}
			seen[g] = true
		}
		roles[r.Name] = true
	}
	var windows []SyncWindow
	for _, w := range p.Spec.SyncWindows {
		if w == nil {
			continue
		}
		// A window's identity is everything but manualSync.
		id := *w
		id.ManualSync = false
		if slices.ContainsFunc(windows, func(o SyncWindow) bool { return sameWindow(o, id) }) {
			return fmt.Errorf("sync window with kind '%s', schedule '%s', and duration '%s' already exists", w.Kind, w.Schedule, w.Duration)
		}
		if err := validateWindow(w); err != nil {
			return err
		}
		if len(w.Applications) == 0 && len(w.Namespaces) == 0 && len(w.Clusters) == 0 {
			return fmt.Errorf("window '%s':'%s':'%s' requires one of application, cluster or namespace", w.Kind, w.Schedule, w.Duration)
		}
		windows = append(windows, id)
	}
	return nil
}

func sameWindow(a, b SyncWindow) bool {
	return a.Kind == b.Kind && a.Schedule == b.Schedule && a.Duration == b.Duration && a.TimeZone == b.TimeZone &&
		slices.Equal(a.Applications, b.Applications) && slices.Equal(a.Namespaces, b.Namespaces) && slices.Equal(a.Clusters, b.Clusters)
}

// validateWindow is SyncWindow.Validate: Argo CD falls back to UTC for an
// unknown time zone, with a warning in its log.
func validateWindow(w *SyncWindow) error {
	if w.Kind != "allow" && w.Kind != "deny" {
		return fmt.Errorf("kind '%s' mismatch: can only be allow or deny", w.Kind)
	}
	if err := ParseSchedule(w.Schedule); err != nil {
		return fmt.Errorf("cannot parse schedule '%s': %w", w.Schedule, err)
	}
	if _, err := time.ParseDuration(w.Duration); err != nil {
		return fmt.Errorf("cannot parse duration '%s': %w", w.Duration, err)
	}
	return nil
}

// ParseSchedule parses a sync window's schedule as Argo CD does: five cron
// fields, no descriptors such as @daily.
func ParseSchedule(s string) error {
	_, err := schedule.Parse(s)
	return err
}

var (
	schedule     = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	roleName     = regexp.MustCompile(`^[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?$`)
	groupInvalid = regexp.MustCompile("[\"\n\r\t]")
	// Argo CD's project-scoped RBAC resources and actions.
	projectResources = []string{"applications", "applicationsets", "logs", "exec", "clusters", "repositories"}
	actions          = []string{"get", "create", "update", "delete", "sync", "override", "*"}
	actionPatterns   = []*regexp.Regexp{regexp.MustCompile("action/.*"), regexp.MustCompile("update/.*"), regexp.MustCompile("delete/.*")}
)

func validatePolicy(proj, role, policy string, object *regexp.Regexp) error {
	c := strings.Split(policy, ",")
	if len(c) != 6 || strings.Trim(c[0], " ") != "p" {
		return fmt.Errorf("invalid policy rule '%s': must be of the form: 'p, sub, res, act, obj, eft'", policy)
	}
	for i := range c {
		c[i] = strings.Trim(c[i], " ")
	}
	if want := "proj:" + proj + ":" + role; c[1] != want {
		return fmt.Errorf("invalid policy rule '%s': policy subject must be: '%s', not '%s'", policy, want, c[1])
	}
	if !slices.Contains(projectResources, c[2]) {
		return fmt.Errorf("invalid policy rule '%s': project resource must be: 'applications', 'applicationsets', 'repositories', 'exec', 'logs' or 'clusters', not '%s'", policy, c[2])
	}
	if !slices.Contains(actions, c[3]) && !slices.ContainsFunc(actionPatterns, func(re *regexp.Regexp) bool { return re.MatchString(c[3]) }) {
		return fmt.Errorf("invalid policy rule '%s': invalid action '%s'", policy, c[3])
	}
	if !object.MatchString(c[4]) {
		return fmt.Errorf("invalid policy rule '%s': object must be of form '%s/*', '%s[/<NAMESPACE>]/<APPNAME>' or '%s/<APPNAME>', not '%s'", policy, proj, proj, proj, c[4])
	}
	if c[5] != "allow" && c[5] != "deny" {
		return fmt.Errorf("invalid policy rule '%s': effect must be: 'allow' or 'deny'", policy)
	}
	return nil
}

func validateGroupName(name string) error {
	n := []rune(name)
	name = strings.TrimSpace(name)
	if len(name) > 1 && strings.HasPrefix(name, `"`) && strings.HasSuffix(name, `"`) {
		name = name[1 : len(name)-1]
	} else if strings.Contains(name, ",") {
		return fmt.Errorf("group '%s' must be quoted", name)
	}
	if name == "" {
		return fmt.Errorf("group '%s' is empty", name)
	}
	if groupInvalid.MatchString(name) {
		return fmt.Errorf("group '%s' contains invalid characters", name)
	}
	if len(n) > 1 && unicode.IsSpace(n[0]) {
		return fmt.Errorf("group '%s' contains a leading space", name)
	}
	if len(n) > 1 && unicode.IsSpace(n[len(n)-1]) {
		return fmt.Errorf("group '%s' contains a trailing space", name)
	}
	return nil
}

// SourcePermitted reports whether a project with these sourceRepos lets an
// Application deploy from repoURL, as Argo CD's AppProject.IsSourcePermitted
// decides: URLs normalized (case, ".git", scp-style SSH), "*" matches any
// repository, other patterns are globs with "/" as separator, and a
// pattern starting with "!" denies what it matches.
func SourcePermitted(sourceRepos []string, repoURL string) bool {
	src := normalizeGitURL(repoURL)
	matched := false
	for _, r := range sourceRepos {
		deny := strings.HasPrefix(r, "!")
		pattern := normalizeGitURL(strings.TrimPrefix(r, "!"))
		var m bool
		switch {
		case deny:
			m = !globMatch(pattern, src)
		case pattern == "*":
			m = true
		default:
			m = globMatch(pattern, src)
		}
		if m {
			matched = true
		} else if deny {
			return false
		}
	}
	return matched
}

func globMatch(pattern, s string) bool {
	g, err := glob.Compile(pattern, '/')
	return err == nil && g.Match(s)
}

var sshURL = regexp.MustCompile("^(ssh://)?([^/:]*?)@[^@]+$")

// normalizeGitURL is Argo CD's git.NormalizeGitURL.
func normalizeGitURL(repo string) string {
	repo = strings.ToLower(strings.TrimSpace(repo))
	if sshURL.MatchString(repo) && !strings.HasPrefix(repo, "ssh://") {
		repo = "ssh://" + strings.Replace(repo, ":", "/", 1)
	}
	repo = strings.TrimSuffix(repo, ".git")
	u, err := url.Parse(repo)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.String(), "ssh://")
}
