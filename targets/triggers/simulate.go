package triggers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	triggersv1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1beta1"
	"github.com/tektoncd/triggers/pkg/interceptors"
	"github.com/tektoncd/triggers/pkg/interceptors/cel"
	"github.com/tektoncd/triggers/pkg/interceptors/github"
	"github.com/tektoncd/triggers/pkg/interceptors/gitlab"
	"github.com/tektoncd/triggers/pkg/template"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/pipec/pipec/targets"
)

// Delivery is a webhook delivery to simulate.
type Delivery struct {
	Header http.Header
	Body   []byte
	// Secret returns the value of a key of a Secret, standing in for the
	// cluster's Secrets (webhook secret, GitHub token).
	Secret func(name, key string) ([]byte, error)
	// ChangedFiles stands in for the GitHub API's list of a pull
	// request's files, which Tekton Triggers fetches for path filters.
	ChangedFiles []string
}

// Outcome is what one Trigger does with a delivery.
type Outcome struct {
	Trigger  string
	Pipeline string
	// Started reports whether the trigger would start a run.
	Started bool
	// Reason says why not, in the interceptor's words.
	Reason string
	// Params are the started PipelineRun's parameters, by name.
	Params map[string]string
	// PipelineRun is the PipelineRun that would be created.
	PipelineRun map[string]any
}

// simulationSecret is the webhook secret deliveries are signed with when the
// caller gives none.
const simulationSecret = "pipec-simulation"

// SimulationSecret returns the secret a simulation signs unsigned
// deliveries with, and that Secret lookups return when the caller gives no
// value of their own.
func SimulationSecret() string { return simulationSecret }

// Sign adds what a provider adds to prove a delivery knows the webhook
// secret, unless the delivery already carries it: GitHub's
// X-Hub-Signature-256 HMAC, GitLab's X-Gitlab-Token.
func Sign(provider string, d *Delivery, secret []byte) {
	if provider == "gitlab" {
		if d.Header.Get("X-Gitlab-Token") == "" {
			d.Header.Set("X-Gitlab-Token", string(secret))
		}
		return
	}
	// A delivery that carries either of GitHub's signatures is signed: the
	// interceptor checks the SHA-1 one when the SHA-256 one is missing, so
	// a forged X-Hub-Signature fails as it would in a cluster.
	if d.Header.Get("X-Hub-Signature-256") == "" && d.Header.Get("X-Hub-Signature") == "" {
		mac := hmac.New(sha256.New, secret)
		mac.Write(d.Body)
		d.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
}

type secretGetter struct {
	get func(name, key string) ([]byte, error)
}

func (s secretGetter) Get(_ context.Context, _ string, sr *triggersv1.SecretRef) ([]byte, error) {
	return s.get(sr.SecretName, sr.SecretKey)
}

// Simulate runs a delivery through the EventListener pipec generated, the
// way its sink does: for each trigger group, Tekton Triggers' own
// interceptors (github, gitlab) once, then for each Trigger the group
// selects, in the order pipec generated them, its interceptors (cel) with
// the group's extensions, then Triggers' own binding and template code.
// Nothing touches a cluster or the network; for pull requests, the files
// GitHub's API would list come from d.ChangedFiles.
func Simulate(ctx context.Context, objs []targets.Object, d Delivery) ([]Outcome, error) {
	var el *triggersv1.EventListener
	var trigs []*triggersv1.Trigger
	bindings := map[string]*triggersv1.TriggerBinding{}
	templates := map[string]*triggersv1.TriggerTemplate{}
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *triggersv1.EventListener:
			el = v
		case *triggersv1.Trigger:
			trigs = append(trigs, v)
		case *triggersv1.TriggerBinding:
			bindings[v.Name] = v
		case *triggersv1.TriggerTemplate:
			templates[v.Name] = v
		}
	}
	if el == nil {
		return nil, errors.New("the configuration has no EventListener: no pipeline has `on`")
	}
	var obj map[string]any
	if err := json.Unmarshal(d.Body, &obj); err != nil || obj == nil {
		return nil, errors.New("the payload is not a JSON object, as every GitHub and GitLab webhook delivery is")
	}
	if d.Header.Get("Content-Type") == "" {
		d.Header.Set("Content-Type", "application/json")
	}
	sg := secretGetter{get: d.Secret}
	impls := map[string]triggersv1.InterceptorInterface{
		"github": github.NewInterceptor(sg),
		"gitlab": gitlab.NewInterceptor(sg),
		"cel":    cel.NewInterceptor(sg),
	}
	// resolve is what Trigger t does after its group's interceptors, which
	// stopped it with groupReason or passed on ext.
	resolve := func(t *triggersv1.Trigger, ext map[string]any, provider, groupReason string) (Outcome, error) {
		o := Outcome{Trigger: t.Name}
		if t.Spec.Template.Ref != nil {
			o.Pipeline = templatePipeline(templates[*t.Spec.Template.Ref], *t.Spec.Template.Ref)
		}
		if groupReason != "" {
			o.Reason = otherEvent(t, provider, d.Header, groupReason)
			return o, nil
		}
		body, header, ext, reason := runInterceptors(ctx, impls, t.Spec.Interceptors, "namespaces/"+t.Namespace+"/triggers/"+t.Name, d, ext)
		if reason != "" {
			o.Reason = otherEvent(t, provider, d.Header, reason)
			return o, nil
		}
		rt, err := template.ResolveTrigger(*t,
			func(name string) (*triggersv1.TriggerBinding, error) {
				if b, ok := bindings[name]; ok {
					return b, nil
				}
				return nil, fmt.Errorf("TriggerBinding %q not found", name)
			},
			func(name string) (*triggersv1.ClusterTriggerBinding, error) {
				return nil, fmt.Errorf("ClusterTriggerBinding %q not found", name)
			},
			func(name string) (*triggersv1.TriggerTemplate, error) {
				if tt, ok := templates[name]; ok {
					return tt, nil
				}
				return nil, fmt.Errorf("TriggerTemplate %q not found", name)
			})
		if err != nil {
			return o, err
		}
		params, err := template.ResolveParams(rt, body, header, ext, template.NewTriggerContext("simulated-event"))
		if err != nil {
			o.Reason = "binding failed: " + err.Error()
			return o, nil
		}
		res := template.ResolveResources(rt.TriggerTemplate, params)
		if len(res) == 0 {
			o.Reason = "the template creates nothing"
			return o, nil
		}
		var pr map[string]any
		if err := json.Unmarshal(res[0], &pr); err != nil {
			return o, fmt.Errorf("the resolved PipelineRun is not JSON: %w", err)
		}
		o.Started = true
		o.PipelineRun = pr
		o.Params = runParams(pr)
		return o, nil
	}

	var out []Outcome
	for _, g := range el.Spec.TriggerGroups {
		sel, err := metav1.LabelSelectorAsSelector(g.TriggerSelector.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("trigger group %s: %w", g.Name, err)
		}
		_, _, ext, reason := runInterceptors(ctx, impls, g.Interceptors, "namespaces/"+el.Namespace+"/triggerGroups/"+g.Name, d, nil)
		provider := ""
		if len(g.Interceptors) > 0 {
			provider = g.Interceptors[0].Ref.Name
		}
		for _, t := range trigs {
			if g.TriggerSelector.LabelSelector == nil || !sel.Matches(labels.Set(t.Labels)) {
				continue
			}
			o, err := resolve(t, ext, provider, reason)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// otherEvent words the reason a Trigger of a provider's group stopped: when
// the delivery is not an event of the Trigger's kind, that is the reason,
// rather than the whole filter the CEL interceptor quotes or the event
// types of the group the Trigger is in.
func otherEvent(t *triggersv1.Trigger, provider string, h http.Header, reason string) string {
	var kind string
	for _, b := range t.Spec.Bindings {
		if b.Name == EventKindParam && b.Value != nil {
			kind = *b.Value
		}
	}
	ev, ok := Events[provider][kind]
	if !ok {
		return reason
	}
	got := h.Get(EventHeader(provider))
	if slices.Contains(ev.HeaderEvents, got) {
		return reason
	}
	return fmt.Sprintf("not a %s event (%s: %s)", kind, EventHeader(provider), got)
}

// templatePipeline is the pipeline a template's PipelineRun runs: a
// template is not always named after it (the fork template is not).
func templatePipeline(tt *triggersv1.TriggerTemplate, ref string) string {
	if tt != nil && len(tt.Spec.ResourceTemplates) > 0 {
		var pr struct {
			Metadata struct {
				GenerateName string `json:"generateName"`
			} `json:"metadata"`
			Spec struct {
				PipelineRef struct {
					Name string `json:"name"`
				} `json:"pipelineRef"`
			} `json:"spec"`
		}
		if json.Unmarshal(tt.Spec.ResourceTemplates[0].Raw, &pr) == nil && pr.Spec.PipelineRef.Name != "" {
			return pr.Spec.PipelineRef.Name
		}
		// A remote pipeline's run is named after the pipeline.
		if pr.Metadata.GenerateName != "" {
			return strings.TrimSuffix(pr.Metadata.GenerateName, "-")
		}
	}
	return ref
}

// runInterceptors runs a chain of interceptors (a trigger group's or a
// Trigger's; id names it as the sink does) as the EventListener sink does:
// each sees the body, headers and the extensions so far, starting from
// ext; the first that does not continue stops the chain.
func runInterceptors(ctx context.Context, impls map[string]triggersv1.InterceptorInterface, chain []*triggersv1.TriggerInterceptor, id string, d Delivery, ext map[string]any) ([]byte, http.Header, map[string]any, string) {
	req := triggersv1.InterceptorRequest{
		Body:       string(d.Body),
		Header:     d.Header.Clone(),
		Extensions: maps.Clone(ext),
		Context: &triggersv1.TriggerContext{
			EventURL:  "http://" + ListenerName + ":8080",
			EventID:   "simulated-event",
			TriggerID: id,
		},
	}
	if req.Extensions == nil {
		req.Extensions = map[string]any{}
	}
	for _, i := range chain {
		impl, ok := impls[i.Ref.Name]
		if !ok {
			return nil, nil, nil, fmt.Sprintf("interceptor %q cannot be simulated", i.Ref.Name)
		}
		req.InterceptorParams = interceptors.GetInterceptorParams(i)
		substitute := false
		if i.Ref.Name == "github" && interceptors.Canonical(req.Header).Get("X-Github-Event") == "pull_request" {
			if _, ok := req.InterceptorParams["addChangedFiles"]; ok {
				// Tekton Triggers would ask the GitHub API; the files
				// come from the caller instead.
				delete(req.InterceptorParams, "addChangedFiles")
				substitute = true
			}
		}
		resp := impl.Process(ctx, &req)
		if !resp.Continue {
			msg := "stopped"
			if resp.Status.Message != "" {
				msg = resp.Status.Message
			}
			return nil, nil, nil, fmt.Sprintf("%s interceptor: %s", i.Ref.Name, msg)
		}
		for k, v := range resp.Extensions {
			req.Extensions[k] = v
		}
		if substitute {
			req.Extensions["changed_files"] = strings.Join(d.ChangedFiles, ",")
		}
		req.InterceptorParams = map[string]any{}
	}
	return []byte(req.Body), req.Header, req.Extensions, ""
}

func runParams(pr map[string]any) map[string]string {
	out := map[string]string{}
	spec, _ := pr["spec"].(map[string]any)
	params, _ := spec["params"].([]any)
	for _, p := range params {
		m, _ := p.(map[string]any)
		name, _ := m["name"].(string)
		out[name] = fmt.Sprint(m["value"])
	}
	return out
}

// SortedParams lists a run's parameters in name order.
func (o Outcome) SortedParams() []string {
	keys := make([]string, 0, len(o.Params))
	for k := range o.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// GitLabCommitLimit is how many commits GitLab lists in a push event; the
// files changed by older commits of a larger push are not in the payload.
const GitLabCommitLimit = 20

// TruncatedCommits reports a GitLab push whose payload lists fewer commits
// than it pushed (total_commits_count): path filters see the files of the
// listed ones only, in a cluster as here.
func TruncatedCommits(body []byte) (listed, total int, truncated bool) {
	var p struct {
		Commits []json.RawMessage `json:"commits"`
		Total   int               `json:"total_commits_count"`
	}
	if json.Unmarshal(body, &p) != nil {
		return 0, 0, false
	}
	return len(p.Commits), p.Total, p.Total > len(p.Commits)
}
