package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

type gitlabClient struct {
	h     *Handler
	forge *Forge
}

func (g gitlabClient) header() (http.Header, error) {
	token, err := readSecret(g.forge.TokenFile)
	if err != nil {
		return nil, err
	}
	return http.Header{"Private-Token": {token}, "User-Agent": {"pipec"}}, nil
}

func (g gitlabClient) archiveRequest(ctx context.Context, c commit) (*http.Request, error) {
	hdr, err := g.header()
	if err != nil {
		return nil, err
	}
	u := fmt.Sprintf("%s/projects/%s/repository/archive.tar.gz?sha=%s", strings.TrimSuffix(g.forge.APIURL, "/"), url.PathEscape(c.project), url.QueryEscape(c.sha))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header = hdr
	return req, nil
}

// gitlabStates maps pipec's states to GitLab's commit status states.
var gitlabStates = map[string]string{"pending": "running", "success": "success", "failure": "failed", "error": "failed"}

func (g gitlabClient) setStatus(ctx context.Context, c commit, s status, name string) error {
	hdr, err := g.header()
	if err != nil {
		return err
	}
	u := fmt.Sprintf("%s/projects/%s/statuses/%s", strings.TrimSuffix(g.forge.APIURL, "/"), url.PathEscape(c.project), url.PathEscape(c.sha))
	return postJSON(ctx, g.h.cfg.Client, u, hdr, map[string]string{"state": gitlabStates[s.state], "description": s.description, "name": name})
}

// gitlabEvent holds the fields pipec reads from Push Hook and Merge Request
// Hook payloads.
type gitlabEvent struct {
	ObjectKind  string `json:"object_kind"`
	CheckoutSHA string `json:"checkout_sha"`
	ProjectID   int64  `json:"project_id"`
	Attrs       *struct {
		Action          string `json:"action"`
		OldRev          string `json:"oldrev"`
		SourceProjectID int64  `json:"source_project_id"`
		LastCommit      struct {
			ID string `json:"id"`
		} `json:"last_commit"`
	} `json:"object_attributes"`
}

func (h *Handler) serveGitLab(w http.ResponseWriter, r *http.Request) {
	body, ok := readPayload(w, r)
	if !ok {
		return
	}
	secret, err := readSecret(h.cfg.GitLab.SecretFile)
	if err != nil {
		h.cfg.Log.Error("reading the GitLab webhook secret", "error", err.Error())
		http.Error(w, "the server cannot read its webhook secret", http.StatusInternalServerError)
		return
	}
	if !validToken(secret, r.Header.Get("X-Gitlab-Token")) {
		http.Error(w, "missing or invalid X-Gitlab-Token; check the webhook's secret token", http.StatusUnauthorized)
		return
	}
	var ev gitlabEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "the payload is not JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	c := commit{forge: "gitlab", event: ev.ObjectKind, delivery: deliveryKey(body)}
	switch ev.ObjectKind {
	case "push":
		if strings.Trim(ev.CheckoutSHA, "0") == "" {
			fmt.Fprintln(w, "ignored: branch deleted")
			return
		}
		c.project, c.sha = strconv.FormatInt(ev.ProjectID, 10), ev.CheckoutSHA
	case "merge_request":
		if ev.Attrs == nil {
			http.Error(w, "merge_request event without object_attributes", http.StatusBadRequest)
			return
		}
		switch a := ev.Attrs.Action; {
		case a == "open" || a == "reopen":
		case a == "update" && ev.Attrs.OldRev != "":
			// New commits; updates of the title or labels carry no oldrev.
		default:
			fmt.Fprintf(w, "ignored: merge_request %s\n", a)
			return
		}
		c.project, c.sha = strconv.FormatInt(ev.Attrs.SourceProjectID, 10), ev.Attrs.LastCommit.ID
	default:
		fmt.Fprintf(w, "ignored: event %q\n", ev.ObjectKind)
		return
	}
	if c.project == "0" || !isSHA(c.sha) {
		http.Error(w, "the payload names no project or commit", http.StatusBadRequest)
		return
	}
	gc := gitlabClient{h: h, forge: h.cfg.GitLab}
	h.accept(w, c, func(ctx context.Context, c commit) { h.check(ctx, c, gc) })
}
