package cli

import (
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/pipec/pipec/internal/server"
	"github.com/pipec/pipec/internal/webhook"
)

// webhookOptions are serve's GitHub and GitLab flags.
type webhookOptions struct {
	github, gitlab webhook.Forge
	dir            string
	statusName     string
}

func (o *webhookOptions) register(f *pflag.FlagSet) {
	f.StringVar(&o.github.SecretFile, "github-webhook-secret-file", "", "`FILE` holding the GitHub webhook secret; turns on POST /v1/webhooks/github")
	f.StringVar(&o.github.TokenFile, "github-token-file", "", "`FILE` holding the GitHub token that downloads commits and posts statuses")
	f.StringVar(&o.github.APIURL, "github-api-url", "https://api.github.com", "GitHub API `URL` (GitHub Enterprise: https://HOST/api/v3)")
	f.StringVar(&o.gitlab.SecretFile, "gitlab-webhook-secret-file", "", "`FILE` holding the GitLab webhook secret token; turns on POST /v1/webhooks/gitlab")
	f.StringVar(&o.gitlab.TokenFile, "gitlab-token-file", "", "`FILE` holding the GitLab token that downloads commits and posts statuses")
	f.StringVar(&o.gitlab.APIURL, "gitlab-api-url", "https://gitlab.com/api/v4", "GitLab API `URL` (self-managed: https://HOST/api/v4)")
	f.StringVar(&o.dir, "webhook-config-dir", ".", "the configuration directory inside the repositories webhooks name")
	f.StringVar(&o.statusName, "webhook-status-name", "pipec", "the name of the commit status pipec reports")
}

// mount adds the webhook handler to s when a webhook secret is configured.
// Its checks stop when s stops the work in progress at the shutdown
// timeout, and Serve waits for them.
func (o *webhookOptions) mount(s *server.Server, log *slog.Logger) error {
	wc := webhook.Config{Dir: o.dir, StatusName: o.statusName, Vet: s.VetArchive, ReadArchive: s.ReadArchive, Context: s.Stopping(), Log: log}
	if o.github.SecretFile != "" {
		wc.GitHub = &o.github
	}
	if o.gitlab.SecretFile != "" {
		wc.GitLab = &o.gitlab
	}
	if wc.GitHub == nil && wc.GitLab == nil {
		return nil
	}
	h, err := webhook.New(wc)
	if err != nil {
		return err
	}
	s.HandleWebhooks(h)
	return nil
}
