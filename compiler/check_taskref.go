package compiler

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/distribution/reference"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// checkTaskRef checks what can be known offline of a remote task: that its
// resolver takes the params given, and has those it needs, with values of
// the right form. The task itself only Tekton sees, when the pipeline
// runs; that is said once, as a note at the reference.
func (c *checker) checkTaskRef(ps pipelineScope, t *model.PipelineTask) {
	ok := c.checkRef(t.Ref, "task", func(p model.Path, s string) {
		c.checkPipelineStringRefs(ps, t, p, s)
		for _, r := range findRefs(s) {
			if r.Kind == "tasks" || r.Kind == "finally" {
				// Tekton resolves a pipeline's tasks before any of them
				// runs, and orders tasks by their params, not these.
				d := c.report(ruleRemote, p, "%s: a resolver parameter cannot read a task's result", r.Raw)
				d.Expected = "a literal, a pipeline parameter $(params.<name>) or a context variable"
				d.Hint = "Tekton resolves every task of the pipeline before it starts it; pass the value as a pipeline parameter"
			}
		}
	})
	if !ok {
		return // the note is for a reference that is right
	}
	d := c.report(ruleRemoteInfo, t.Ref.Path, "task %q is resolved by Tekton's %s resolver when the pipeline runs: pipec checks the reference, not the task (its params, workspaces, results and steps)", t.Name, t.Ref.Resolver)
	d.Hint = "capacity checks count it as one step with defaults.step resources; to have pipec check the task, add its YAML to the task library with pipec import"
}

// checkStepRef checks a step's StepAction reference, and notes once what
// pipec cannot see of it.
func (c *checker) checkStepRef(t *model.TaskDef, s *model.Step, sc scope) {
	r := s.Ref
	refs := func(p model.Path, v string) { c.checkTaskRefs(p, v, t.Name, sc) }
	errs := len(c.out)
	switch {
	case r.Name != "" && r.Resolver != "":
		d := c.report(ruleRemote, r.Path, "step %q names a StepAction and a resolver", s.Name)
		d.Expected = `ref: {name: "<stepaction>"} for one of the namespace, or ref: {resolver: ..., params: {...}}`
		return
	case r.Name == "" && r.Resolver == "":
		d := c.report(ruleRemote, r.Path, "step %q refers to no StepAction", s.Name)
		d.Expected = `ref: {name: "<stepaction>"} for one of the namespace, or ref: {resolver: "hub", params: {name: "git-clone", version: "0.1", kind: "stepaction"}}`
		return
	case r.Resolver != "":
		c.checkRef(r, "stepaction", refs)
		c.checkRefKindSet(r, "stepaction")
	}
	for _, a := range s.Params {
		eachString(a.Value, a.Path, refs)
	}
	if len(c.out) > errs {
		return
	}
	what := fmt.Sprintf("StepAction %q of the namespace", r.Name)
	if r.Resolver != "" {
		what = "a StepAction Tekton's " + r.Resolver + " resolver fetches"
	}
	d := c.report(ruleRemoteInfo, r.Path, "step %q of task %q runs %s: pipec checks the reference, not the StepAction (its image, script, params and security context)", s.Name, t.Name, what)
	d.Hint = "defaults.step resources still apply to the step; its security context is the StepAction's, which Tekton puts in place of the step's"
	if env := c.plan.EnvironmentForNamespace(c.plan.Namespace); env != nil && c.plan.Namespace != "" && env.PodSecurity != "privileged" {
		w := c.report(ruleStepActSC, r.Path, "step %q of task %q runs with the security context of its StepAction, which pipec cannot see, in namespace %q where Pod Security %q is enforced", s.Name, t.Name, env.Namespace, env.PodSecurity)
		w.Expected = "a StepAction whose securityContext the namespace admits (runAsNonRoot, allowPrivilegeEscalation: false, capabilities drop ALL, seccompProfile RuntimeDefault for restricted)"
		w.Hint = "Tekton replaces the step's security context with the StepAction's, so pipec's defaults do not apply: without one the TaskRun's pod is refused (PodAdmissionFailed)"
	}
}

// checkRefKindSet reports a reference to a resource of a kind other than
// a task whose resolver takes a kind but is not given one: the resolver
// would fetch a task.
func (c *checker) checkRefKindSet(r *model.Ref, kind string) {
	if _, ok := r.Param("kind"); ok || len(model.Resolvers[r.Resolver].Kinds) == 0 {
		return
	}
	d := c.report(ruleRemote, r.Path.Field("params"), "the %s resolver fetches a task unless told otherwise", r.Resolver)
	d.Expected = fmt.Sprintf("kind: %q among the params", kind)
	d.Hint = "the release's default kind is task"
}

// eachString calls fn with each string of v, at its path.
func eachString(v model.Value, p model.Path, fn func(model.Path, string)) {
	switch v.Type {
	case model.TypeArray:
		for i, s := range v.Array {
			fn(p.Index(i), s)
		}
	case model.TypeObject:
		for _, k := range sortedKeys(v.Object) {
			fn(p.Field(k), v.Object[k])
		}
	default:
		fn(p, v.String)
	}
}

// checkRef checks a resolver reference to a resource of the given kind
// ("task", "pipeline" or "stepaction"): the params the resolver takes and needs, and
// their form; refs checks the variable references in each value. It
// reports whether the reference is right.
func (c *checker) checkRef(r *model.Ref, kind string, refs func(model.Path, string)) bool {
	res := model.Resolvers[r.Resolver]
	if res == nil {
		return false // the schema allows only known resolvers
	}
	errors := len(c.out)
	given := map[string]string{}
	for _, a := range r.Params {
		given[a.Name] = a.Value.String
		if !slices.Contains(res.Params, a.Name) {
			d := c.report(ruleRemote, a.Path, "the %s resolver has no parameter %q", r.Resolver, a.Name)
			d.Expected = fmt.Sprintf("a parameter of Tekton's %s resolver: %s", r.Resolver, diag.OneOf(res.Params))
			if s := diag.Suggest(a.Name, res.Params); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			} else {
				d.Hint = "Tekton's resolvers ignore parameters they do not know; remove it"
			}
			continue
		}
		refs(a.Path, a.Value.String)
		if a.Value.String == "" {
			d := c.report(ruleRemote, a.Path, "parameter %q of the %s resolver is empty", a.Name, r.Resolver)
			d.Expected = "a value; the resolver takes an empty value as not set"
			d.Hint = "give it a value, or remove it"
			continue
		}
		if !strings.Contains(a.Value.String, "$(") {
			c.checkResolverValue(r, a, kind)
		}
	}
	var missing []string
	for _, name := range res.Required {
		if _, ok := given[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		d := c.report(ruleRemote, r.Path.Field("params"), "the %s resolver needs %s", r.Resolver, quoteAll(missing))
		fields := make([]string, len(missing))
		for i, m := range missing {
			fields[i] = fmt.Sprintf("%s: \"<%s>\"", m, m)
		}
		d.Expected = fmt.Sprintf("params: {%s}", strings.Join(fields, ", "))
		d.Hint = resolverHint[r.Resolver]
	}
	if r.Resolver == "git" {
		_, hasURL := given["url"]
		_, hasRepo := given["repo"]
		_, hasOrg := given["org"]
		switch {
		case hasURL && hasRepo:
			d := c.report(ruleRemote, r.Path.Field("params").Field("repo"), "the git resolver takes url or repo, not both")
			d.Expected = "url (a clone) or org and repo (the SCM API)"
			d.Hint = "remove one of them"
		case hasRepo && !hasOrg:
			d := c.report(ruleRemote, r.Path.Field("params").Field("repo"), "the git resolver needs org with repo")
			d.Expected = "params: {org: \"<org>\", repo: \"<repo>\"}"
			d.Hint = "the release's git-resolver-config has no default org"
		case !hasURL && !hasRepo:
			d := c.report(ruleRemote, r.Path.Field("params"), "the git resolver needs url, or org and repo")
			d.Expected = "params: {url: \"https://github.com/<org>/<repo>.git\", ...}"
			d.Hint = "without them Tekton reads the cluster's default-url, which is Tekton's own catalog in a default install; name the repository"
		}
	}
	_, hasUser := given["http-username"]
	_, hasSecret := given["http-password-secret"]
	if r.Resolver == "http" && hasUser != hasSecret {
		d := c.report(ruleRemote, r.Path.Field("params"), "the http resolver takes http-username and http-password-secret together")
		d.Expected = "both, or neither"
	}
	return len(c.out) == errors
}

// resolverHint says where to find a resolver's parameters.
var resolverHint = map[string]string{
	"bundles": "for example {bundle: \"ghcr.io/org/tasks@sha256:<digest>\", name: \"git-clone\", kind: \"task\"}",
	"cluster": "for example {name: \"git-clone\", namespace: \"tekton-tasks\", kind: \"task\"}",
	"git":     "for example {url: \"https://github.com/org/tasks.git\", revision: \"<commit sha>\", pathInRepo: \"task/lint/lint.yaml\"}",
	"http":    "for example {url: \"https://example.com/tasks/lint.yaml\", digest: \"sha256:<hex>\"}",
	"hub":     "for example {name: \"git-clone\", version: \"0.9\"}",
}

// checkResolverValue checks the form of a resolver parameter that is not
// filled in from a pipeline parameter, as the resolver would read it.
func (c *checker) checkResolverValue(r *model.Ref, a *model.Arg, kind string) {
	v := a.Value.String
	switch {
	case a.Name == "kind":
		kinds := model.Resolvers[r.Resolver].Kinds
		// The bundles resolver compares kinds case-insensitively.
		if v != kind && !(r.Resolver == "bundles" && strings.EqualFold(v, kind)) {
			where := map[string]string{"task": "a pipeline task's ref", "stepaction": "a step's ref", "pipeline": "a pipeline's ref"}[kind]
			d := c.report(ruleRemote, a.Path, "%s resolves a %s, not kind %q", where, kind, v)
			d.Expected = fmt.Sprintf("kind: %q", kind)
			if kind == "task" {
				d.Expected += `, or no kind (the resolver's default is "task")`
			}
			if slices.Contains(kinds, v) {
				d.Hint = fmt.Sprintf("pipec does not support a %s in a pipeline task yet; declare its steps or use a Task", v)
				switch {
				case kind == "stepaction":
					d.Hint = fmt.Sprintf("a %s goes in a pipeline task's ref", v)
				case kind == "pipeline" && v == "task":
					d.Hint = "a task goes in a pipeline task's ref: pipelines.<name>.tasks.<task>.ref"
				case kind == "pipeline":
					d.Hint = "a stepaction goes in a step's ref"
				}
			} else if s := diag.Suggest(v, kinds); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			}
		}
	case r.Resolver == "bundles" && a.Name == "bundle":
		if _, err := reference.ParseNormalizedNamed(v); err != nil {
			d := c.report(ruleRemote, a.Path, "invalid bundle reference %q: %v", v, err)
			d.Expected = "an OCI image reference such as ghcr.io/org/tasks@sha256:<digest>"
		}
	case a.Name == "url" && r.Resolver == "http":
		u, err := url.ParseRequestURI(v)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" {
			d := c.report(ruleRemote, a.Path, "invalid URL %q for the http resolver", v)
			d.Expected = "an http or https URL of the task's YAML"
		} else if u.User != nil {
			d := c.report(ruleRemote, a.Path, "the URL %q carries credentials", v)
			d.Expected = "a URL without user:password@"
			d.Hint = "use http-username with http-password-secret, a Secret the resolver reads"
		}
	case a.Name == "url" && r.Resolver == "git":
		if !gitURLRE.MatchString(v) {
			d := c.report(ruleRemote, a.Path, "invalid git repository URL %q", v)
			d.Expected = "an https:// or git:// URL, user@host:path, or an absolute path"
		}
	case a.Name == "digest" && r.Resolver == "http":
		algo, hexDigest, _ := strings.Cut(v, ":")
		size := map[string]int{"sha256": 64, "sha512": 128}[algo]
		if _, err := hex.DecodeString(hexDigest); size == 0 || len(hexDigest) != size || err != nil {
			d := c.report(ruleRemote, a.Path, "invalid digest %q", v)
			d.Expected = "sha256:<64 hexadecimal digits> or sha512:<128 hexadecimal digits>"
		}
	case a.Name == "type" && r.Resolver == "hub":
		if v != "artifact" && v != "tekton" {
			d := c.report(ruleRemote, a.Path, "the hub resolver's type is %q", v)
			d.Expected = `"artifact" (Artifact Hub) or "tekton" (Tekton Hub)`
		}
	case a.Name == "namespace" && r.Resolver == "cluster":
		c.checkName(a.Path, v, "namespace")
	}
}

// gitURLRE is the git resolver's validateRepoURL: an absolute path,
// user@host:path, or a git, http or https URL.
var gitURLRE = regexp.MustCompile(`^(/|[^@]+@[^:]+|(git|https?)://)`)

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
