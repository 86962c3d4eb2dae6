package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

type githubClient struct {
	h     *Handler
	forge *Forge
}

func (g githubClient) header() (http.Header, error) {
	token, err := readSecret(g.forge.TokenFile)
	if err != nil {
		return nil, err
	}
	return http.Header{
		"Authorization":        {"Bearer " + token},
		"Accept":               {"application/vnd.github+json"},
		"X-Github-Api-Version": {"2022-11-28"},
		"User-Agent":           {"pipec"},
	}, nil
}

// archiveRequest asks for the commit's tarball; GitHub redirects to a
// signed codeload URL, and Go's client drops the token on that redirect.
func (g githubClient) archiveRequest(ctx context.Context, c commit) (*http.Request, error) {
	hdr, err := g.header()
	if err != nil {
		return nil, err
	}
	u := fmt.Sprintf("%s/repos/%s/tarball/%s", strings.TrimSuffix(g.forge.APIURL, "/"), repoPath(c.project), url.PathEscape(c.sha))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header = hdr
	return req, nil
}

func (g githubClient) setStatus(ctx context.Context, c commit, s status, name string) error {
	hdr, err := g.header()
	if err != nil {
		return err
	}
	state := s.state // pending, success, failure, error: GitHub's own states
	u := fmt.Sprintf("%s/repos/%s/statuses/%s", strings.TrimSuffix(g.forge.APIURL, "/"), repoPath(c.project), url.PathEscape(c.sha))
	return postJSON(ctx, g.h.cfg.Client, u, hdr, map[string]string{"state": state, "description": s.description, "context": name})
}

// githubEvent holds the fields pipec reads from push and pull_request
// payloads.
type githubEvent struct {
	Action     string `json:"action"`
	After      string `json:"after"`
	Deleted    bool   `json:"deleted"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	PullRequest *struct {
		Head struct {
			SHA string `json:"sha"`
		} `json:"head"`
	} `json:"pull_request"`
}

func (h *Handler) serveGitHub(w http.ResponseWriter, r *http.Request) {
	body, ok := readPayload(w, r)
	if !ok {
		return
	}
	secret, err := readSecret(h.cfg.GitHub.SecretFile)
	if err != nil {
		h.cfg.Log.Error("reading the GitHub webhook secret", "error", err.Error())
		http.Error(w, "the server cannot read its webhook secret", http.StatusInternalServerError)
		return
	}
	if !validSignature(secret, body, r.Header.Get("X-Hub-Signature-256")) {
		http.Error(w, "missing or invalid X-Hub-Signature-256; check the webhook's secret", http.StatusUnauthorized)
		return
	}
	event := r.Header.Get("X-GitHub-Event")
	signed := body
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		// A webhook set to send form data: the JSON is its payload field;
		// the signature covers the form as sent.
		form, err := url.ParseQuery(string(body))
		if err != nil || len(form) != 1 || len(form["payload"]) != 1 {
			http.Error(w, "a form-encoded delivery must carry the JSON event in its one payload field", http.StatusBadRequest)
			return
		}
		body = []byte(form.Get("payload"))
	}
	var ev githubEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "the payload is not JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	c := commit{forge: "github", project: ev.Repository.FullName, event: event, delivery: deliveryKey(signed)}
	switch event {
	case "ping":
		fmt.Fprintln(w, "pong")
		return
	case "push":
		if ev.Deleted || strings.Trim(ev.After, "0") == "" {
			fmt.Fprintln(w, "ignored: branch deleted")
			return
		}
		c.sha = ev.After
	case "pull_request":
		switch ev.Action {
		case "opened", "synchronize", "reopened", "ready_for_review":
		default:
			fmt.Fprintf(w, "ignored: pull_request %s\n", ev.Action)
			return
		}
		if ev.PullRequest == nil {
			http.Error(w, "pull_request event without pull_request", http.StatusBadRequest)
			return
		}
		c.sha = ev.PullRequest.Head.SHA
	default:
		fmt.Fprintf(w, "ignored: event %q\n", event)
		return
	}
	if c.project == "" || !isSHA(c.sha) {
		http.Error(w, "the payload names no repository or commit", http.StatusBadRequest)
		return
	}
	if !validRepo(c.project) {
		http.Error(w, fmt.Sprintf("repository.full_name %q is not a GitHub owner/name", c.project), http.StatusBadRequest)
		return
	}
	gc := githubClient{h: h, forge: h.cfg.GitHub}
	h.accept(w, c, func(ctx context.Context, c commit) { h.check(ctx, c, gc) })
}

// GitHub's names: an owner is at most 39 letters, digits and '-' (and '_'
// for managed users; older logins break today's rules, so '.' is let
// through too), a repository at most 100 letters, digits, '.', '-' and
// '_'; neither is "." or "..". Each is escaped into the URL as well.
var (
	ownerRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,39}$`)
	repoRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// validRepo reports whether full is a GitHub owner/name, so that it is one
// path segment each in an API URL: a signed payload must not send the
// token elsewhere on the API ("../../admin").
func validRepo(full string) bool {
	owner, name, ok := strings.Cut(full, "/")
	return ok && ownerRE.MatchString(owner) && repoRE.MatchString(name) && owner != "." && owner != ".." && name != "." && name != ".."
}

// repoPath is owner/name as API URL path segments, each escaped.
func repoPath(full string) string {
	owner, name, _ := strings.Cut(full, "/")
	return url.PathEscape(owner) + "/" + url.PathEscape(name)
}

func isSHA(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}
