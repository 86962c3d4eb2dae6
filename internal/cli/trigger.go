package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/net/http/httpguts"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets/triggers"
)

func newTriggerCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger",
		Short: "Work with the pipelines' webhook triggers",
	}
	cmd.AddCommand(newTriggerTestCmd(stdin, stdout, stderr))
	return cmd
}

type triggerTestOptions struct {
	provider      string
	event         string
	payload       string
	headers       []string
	webhookSecret string
	changedFiles  []string
	unsigned      bool
	output        string
}

// eventHeaders are the provider event header values for --event.
var eventHeaders = map[string]map[string]string{
	model.GitHub: {"push": "push", "tag": "push", "pull_request": "pull_request"},
	model.GitLab: {"push": "Push Hook", "tag": "Tag Push Hook", "tag_push": "Tag Push Hook", "pull_request": "Merge Request Hook", "merge_request": "Merge Request Hook"},
}

func newTriggerTestCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var opts triggerTestOptions
	cmd := &cobra.Command{
		Use:   "test [dir] --event push|pull_request|tag --payload FILE",
		Short: "Show which PipelineRuns a recorded webhook would start, without a cluster",
		Long: `trigger test runs a recorded webhook delivery through the EventListener
pipec generates for dir (default "."), with Tekton Triggers' own
interceptors (github, gitlab, cel) and binding code, and prints which
PipelineRuns would start with which parameters, or why each trigger did not
fire. Nothing touches a cluster or the network.

Deliveries without a signature (GitHub's X-Hub-Signature-256 or
X-Hub-Signature) or token (GitLab) are signed with --webhook-secret, so the
interceptor's check runs as it would; --unsigned sends them as they are, as
a forged or misconfigured sender would. For pull requests, the files
GitHub's API would list for path filters come from --changed-files.

Exit codes: 0 evaluated (whether or not anything fires), 2 bad payload,
flags or configuration, 1 configuration findings.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTriggerTest(cmd, dirArg(args), opts, stdin, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.provider, "provider", "", "github or gitlab (default: the configuration's triggers.provider)")
	f.StringVar(&opts.event, "event", "", "push, pull_request (merge_request) or tag")
	f.StringVar(&opts.payload, "payload", "", "the webhook's JSON body, a `FILE` or - for stdin")
	f.StringArrayVar(&opts.headers, "header", nil, "an extra request header, `NAME=VALUE` or \"NAME: VALUE\" (repeatable)")
	f.BoolVar(&opts.unsigned, "unsigned", false, "do not sign the delivery: see what a cluster does with an unsigned one")
	f.StringVar(&opts.webhookSecret, "webhook-secret", triggers.SimulationSecret(), "the webhook secret the EventListener knows")
	f.StringSliceVar(&opts.changedFiles, "changed-files", nil, "files a pull request changes, as GitHub's API would list them")
	f.StringVar(&opts.output, "output", "text", "text or json")
	_ = cmd.MarkFlagRequired("event")
	_ = cmd.MarkFlagRequired("payload")
	_ = cmd.RegisterFlagCompletionFunc("event", cobra.FixedCompletions([]string{"push", "pull_request", "tag"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("provider", cobra.FixedCompletions([]string{"github", "gitlab"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func usageError(format string, args ...any) error {
	return &exitError{code: ExitEval, msg: fmt.Sprintf(format, args...)}
}

func runTriggerTest(cmd *cobra.Command, dir string, opts triggerTestOptions, stdin io.Reader, stdout io.Writer) error {
	if opts.output != "text" && opts.output != "json" {
		return usageError("unknown output %q; expected \"text\" or \"json\"", opts.output)
	}
	var body []byte
	var err error
	if opts.payload == "-" {
		body, err = io.ReadAll(stdin)
	} else {
		body, err = os.ReadFile(opts.payload)
	}
	if err != nil {
		return usageError("reading the payload: %v", err)
	}
	res, err := compile(cmd.Context(), dir)
	if err != nil {
		return err
	}
	provider := opts.provider
	if provider == "" {
		provider = res.Plan.Triggers.Provider
	}
	events, ok := eventHeaders[provider]
	if !ok {
		return usageError("unknown provider %q; expected \"github\" or \"gitlab\"", provider)
	}
	headerEvent, ok := events[opts.event]
	if !ok {
		return usageError("unknown event %q for %s; expected push, pull_request or tag", opts.event, provider)
	}
	d := triggers.Delivery{Header: http.Header{}, Body: body, ChangedFiles: opts.changedFiles}
	d.Header.Set(triggers.EventHeader(provider), headerEvent)
	for _, h := range opts.headers {
		k, v, ok := strings.Cut(h, ":")
		if eq, ev, eok := strings.Cut(h, "="); eok && (!ok || len(eq) < len(k)) {
			k, v, ok = eq, ev, true
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return usageError("invalid --header %q; expected NAME=VALUE or \"NAME: VALUE\" with a valid header name", h)
		}
		d.Header.Set(k, v)
	}
	secret := []byte(opts.webhookSecret)
	if !opts.unsigned {
		triggers.Sign(provider, &d, secret)
	}
	webhook, token := res.Plan.Triggers.WebhookSecret, res.Plan.Triggers.GitHubToken
	d.Secret = func(name, key string) ([]byte, error) {
		switch {
		case webhook != nil && name == webhook.Name && key == webhook.Key:
			return secret, nil
		case token != nil && name == token.Name && key == token.Key:
			return []byte("simulated-github-token"), nil
		}
		return nil, fmt.Errorf("secret %s/%s is not known to the simulation", name, key)
	}
	outcomes, err := triggers.Simulate(cmd.Context(), res.Objects, d)
	if err != nil {
		return usageError("%v", err)
	}
	skipped := map[string][]string{}
	for _, o := range outcomes {
		if pl := res.Plan.Pipeline(o.Pipeline); o.Started && pl != nil && pl.Ref == nil {
			skipped[o.Trigger] = pl.SkippedBy(o.Params)
		}
	}
	if listed, total, cut := triggers.TruncatedCommits(body); cut && provider == model.GitLab {
		fmt.Fprintf(cmd.ErrOrStderr(), "pipec: warning: the push lists %d of its %d commits (GitLab lists at most %d): path filters see only the files those changed, in a cluster as here\n",
			listed, total, triggers.GitLabCommitLimit)
	}
	if opts.output == "json" {
		return writeTriggerJSON(stdout, provider, opts.event, outcomes, skipped)
	}
	writeTriggerText(stdout, provider, opts.event, outcomes, skipped)
	return nil
}

// writeTriggerText writes the outcomes; skipped are the tasks each started
// run skips by its when expressions, by trigger.
func writeTriggerText(w io.Writer, provider, event string, outcomes []triggers.Outcome, skipped map[string][]string) {
	started := 0
	for _, o := range outcomes {
		if o.Started {
			started++
		}
	}
	fmt.Fprintf(w, "%s %s event: %d of %d triggers start a run\n", provider, event, started, len(outcomes))
	for _, o := range outcomes {
		if !o.Started {
			fmt.Fprintf(w, "  skip   %-32s %s\n", o.Trigger, o.Reason)
			continue
		}
		meta, _ := o.PipelineRun["metadata"].(map[string]any)
		fmt.Fprintf(w, "  start  %-32s PipelineRun %s* of pipeline %s\n", o.Trigger, meta["generateName"], o.Pipeline)
		width := 0
		for _, k := range o.SortedParams() {
			width = max(width, len(k))
		}
		for _, k := range o.SortedParams() {
			fmt.Fprintf(w, "           %-*s = %s\n", width, k, o.Params[k])
		}
		if s := skipped[o.Trigger]; len(s) > 0 {
			fmt.Fprintf(w, "           skips %s (when expressions)\n", strings.Join(s, ", "))
		}
	}
}

// triggerTestSchema versions the JSON output of `pipec trigger test`.
const triggerTestSchema = "pipec.dev/trigger-test/v1"

func writeTriggerJSON(w io.Writer, provider, event string, outcomes []triggers.Outcome, skipped map[string][]string) error {
	type trig struct {
		Trigger     string            `json:"trigger"`
		Pipeline    string            `json:"pipeline"`
		Started     bool              `json:"started"`
		Reason      string            `json:"reason,omitempty"`
		Params      map[string]string `json:"params,omitempty"`
		Skipped     []string          `json:"skippedTasks,omitempty"`
		PipelineRun map[string]any    `json:"pipelineRun,omitempty"`
	}
	out := struct {
		SchemaVersion string `json:"schemaVersion"`
		Provider      string `json:"provider"`
		Event         string `json:"event"`
		Triggers      []trig `json:"triggers"`
	}{SchemaVersion: triggerTestSchema, Provider: provider, Event: event, Triggers: []trig{}}
	for _, o := range outcomes {
		out.Triggers = append(out.Triggers, trig{o.Trigger, o.Pipeline, o.Started, o.Reason, o.Params, skipped[o.Trigger], o.PipelineRun})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
