// Package webhook takes GitHub and GitLab push and pull/merge request
// webhooks, verifies them, and vets the commit they name: it downloads the
// commit's archive through the forge's API, checks the configuration in it
// and reports the verdict as a commit status. It answers the forge at once
// (202) and works in the background under the server's concurrency bound.
package webhook

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pipec/pipec/internal/report"
)

// Forge is a GitHub or GitLab instance pipec reports to.
type Forge struct {
	// APIURL is the REST API's base: https://api.github.com,
	// https://github.example.com/api/v3, https://gitlab.com/api/v4.
	APIURL string
	// SecretFile holds the webhook secret (GitHub: the HMAC key of
	// X-Hub-Signature-256; GitLab: the X-Gitlab-Token value).
	SecretFile string
	// TokenFile holds the API token that downloads archives and posts
	// commit statuses. Both files are read on every event, so a rotated
	// Secret takes effect without a restart.
	TokenFile string
}

// Vetter checks the configuration in dir (relative to the archive's top
// directory, if it has one) of a downloaded archive, as
// server.Server.VetArchive does: reading the archive is part of the work
// it bounds.
type Vetter func(ctx context.Context, archive []byte, dir string) (*report.Report, int, error)

// Config configures a Handler.
type Config struct {
	GitHub, GitLab *Forge
	// Dir is the configuration directory inside the repository, default ".".
	Dir string
	// StatusName is the commit status's context (GitHub) or name
	// (GitLab), default "pipec".
	StatusName string
	Vet        Vetter
	// MaxArchiveBytes bounds a downloaded archive, default 64 MiB.
	MaxArchiveBytes int64
	// ReadArchive reads a download of at most limit bytes whose length
	// is size (its Content-Length; -1 when unknown), as
	// server.Server.ReadArchive does: within the memory the server gives
	// uploads, waiting for room as long as ctx allows; release is called
	// once the check is over. Default: read it all, with nothing to
	// release.
	ReadArchive func(ctx context.Context, r io.Reader, size, limit int64) (data []byte, release func(), err error)
	// Context is what the checks' contexts derive from: when it is
	// cancelled, a check still downloading, or waiting for memory or a
	// build slot, stops and reports an error. pipec serve sets
	// server.Server.Stopping, cancelled near the shutdown timeout.
	// Default: never cancelled.
	Context context.Context
	// Timeout bounds the work on one event, default 5 minutes.
	Timeout time.Duration
	// MaxPending events may be in progress; more are refused with 503.
	// Default 64.
	MaxPending int
	Client     *http.Client
	Log        *slog.Logger
}

// Handler serves /v1/webhooks/github and /v1/webhooks/gitlab.
type Handler struct {
	cfg     Config
	mux     *http.ServeMux
	wg      sync.WaitGroup
	pending chan struct{}
	seen    deliveries
}

// New returns a Handler. It fails when a forge is configured without the
// files it needs.
func New(cfg Config) (*Handler, error) {
	cfg.Dir = cmp.Or(cfg.Dir, ".")
	cfg.StatusName = cmp.Or(cfg.StatusName, "pipec")
	cfg.MaxArchiveBytes = cmp.Or(cfg.MaxArchiveBytes, 64<<20)
	cfg.Timeout = cmp.Or(cfg.Timeout, 5*time.Minute)
	cfg.MaxPending = cmp.Or(cfg.MaxPending, 64)
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadArchive == nil {
		cfg.ReadArchive = readAll
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), pending: make(chan struct{}, cfg.MaxPending), seen: deliveries{at: map[string]time.Time{}}}
	for name, f := range map[string]*Forge{"github": cfg.GitHub, "gitlab": cfg.GitLab} {
		if f == nil {
			continue
		}
		if f.SecretFile == "" || f.TokenFile == "" || f.APIURL == "" {
			return nil, fmt.Errorf("the %s webhook needs a webhook secret file, a token file and an API URL", name)
		}
		for _, file := range []string{f.SecretFile, f.TokenFile} {
			if _, err := readSecret(file); err != nil {
				return nil, err
			}
		}
	}
	if cfg.GitHub != nil {
		h.mux.HandleFunc("POST /v1/webhooks/github", h.serveGitHub)
	}
	if cfg.GitLab != nil {
		h.mux.HandleFunc("POST /v1/webhooks/gitlab", h.serveGitLab)
	}
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Wait waits for the events in progress, or until ctx is done.
func (h *Handler) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readSecret reads a secret file, trimming the trailing newline that
// editors and `kubectl create secret --from-file` leave.
func readSecret(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading a webhook secret or token: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", file)
	}
	return s, nil
}

const maxPayload = 5 << 20

// commit is what an event asks pipec to check.
type commit struct {
	forge   string
	project string // owner/name on GitHub, the numeric id on GitLab
	sha     string
	event   string
	// delivery identifies the delivery: a hash of the signed payload
	// (the forge's delivery id header is not signed).
	delivery string
}

// Replayed deliveries are answered without work for deliveryWindow; at
// most maxDeliveries are remembered.
const (
	deliveryWindow = time.Hour
	maxDeliveries  = 10000
)

// deliveries remembers the deliveries accepted lately.
type deliveries struct {
	mu sync.Mutex
	at map[string]time.Time
}

// first records id and reports whether it was not seen within the window.
func (d *deliveries) first(id string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.at[id]; ok && now.Sub(t) < deliveryWindow {
		return false
	}
	if len(d.at) >= maxDeliveries {
		oldest, oldestAt := "", now
		for k, t := range d.at {
			if now.Sub(t) >= deliveryWindow {
				delete(d.at, k)
			} else if t.Before(oldestAt) {
				oldest, oldestAt = k, t
			}
		}
		if len(d.at) >= maxDeliveries {
			delete(d.at, oldest)
		}
	}
	d.at[id] = now
	return true
}

// deliveryKey identifies a delivery by its signed payload.
func deliveryKey(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// forget drops id, for a delivery that was not accepted after all.
func (d *deliveries) forget(id string) {
	d.mu.Lock()
	delete(d.at, id)
	d.mu.Unlock()
}

// status is a commit status to report.
type status struct {
	state, description string
}

// accept starts the background check of c and answers 202.
// A delivery the forge sends again (a redelivery, or a replay by someone
// who recorded it) within deliveryWindow is answered 200 without work.
// A check that ends in an error is forgotten, so that the forge's
// "Redeliver" runs it again.
func (h *Handler) accept(w http.ResponseWriter, c commit, run func(context.Context, commit)) {
	key := c.forge + "/" + c.delivery
	if !h.seen.first(key, time.Now()) {
		fmt.Fprintf(w, "ignored: this delivery was handled already (%s@%s)\n", c.project, c.sha)
		return
	}
	select {
	case h.pending <- struct{}{}:
	default:
		h.seen.forget(key)
		http.Error(w, "too many events in progress; retry later", http.StatusServiceUnavailable)
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() { <-h.pending }()
		ctx, cancel := context.WithTimeout(h.cfg.Context, h.cfg.Timeout)
		defer cancel()
		run(ctx, c)
	}()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "checking %s@%s\n", c.project, c.sha)
}

// statusTimeout bounds posting a commit status.
const statusTimeout = 10 * time.Second

// check downloads, vets and reports one commit through a forge's client.
func (h *Handler) check(ctx context.Context, c commit, fc forgeClient) {
	log := h.cfg.Log.With("forge", c.forge, "project", c.project, "sha", c.sha, "event", c.event)
	post := func(s status) {
		if s.state == "error" {
			h.seen.forget(c.forge + "/" + c.delivery)
		}
		// A check stopped by its context still reports why: the post
		// gets a few seconds of its own.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusTimeout)
		defer cancel()
		if err := fc.setStatus(pctx, c, s, h.cfg.StatusName); err != nil {
			log.Error("posting the commit status", "state", s.state, "error", err.Error())
		}
	}
	post(status{"pending", "pipec is checking the configuration"})
	archive, release, err := h.download(ctx, fc, c)
	if err != nil {
		log.Error("downloading the archive", "error", err.Error())
		post(status{"error", truncate("could not download the commit: " + err.Error())})
		return
	}
	rep, code, err := h.cfg.Vet(ctx, archive, h.cfg.Dir)
	archive = nil
	release()
	if err != nil {
		log.Error("vetting", "error", err.Error())
		post(status{"error", truncate("pipec could not check the commit: " + err.Error())})
		return
	}
	counts := rep.Counts()
	log.Info("checked", "exitCode", code, "deny", counts.Deny, "warn", counts.Warn)
	switch code {
	case report.ExitOK:
		post(status{"success", fmt.Sprintf("passed: %d warn, %d info", counts.Warn, counts.Info)})
	case report.ExitFindings:
		post(status{"failure", truncate(fmt.Sprintf("%d deny, %d warn: %s", counts.Deny, counts.Warn, firstMessage(rep)))})
	default:
		post(status{"failure", truncate("the configuration does not evaluate: " + firstMessage(rep))})
	}
}

func firstMessage(rep *report.Report) string {
	for _, f := range rep.Findings {
		return f.String()
	}
	return ""
}

// truncate keeps a status description within GitHub's 140 characters.
func truncate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= 140 {
		return s
	}
	return s[:137] + "..."
}

// download reads the commit's archive, as sent (compressed), up to
// MaxArchiveBytes; release gives its memory back.
func (h *Handler) download(ctx context.Context, fc forgeClient, c commit) (archive []byte, release func(), err error) {
	req, err := fc.archiveRequest(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, nil, fmt.Errorf("GET %s: %s: %s", redact(req.URL.String()), resp.Status, strings.TrimSpace(string(msg)))
	}
	return h.cfg.ReadArchive(ctx, resp.Body, resp.ContentLength, h.cfg.MaxArchiveBytes)
}

// readAll is the default Config.ReadArchive.
func readAll(_ context.Context, r io.Reader, _, limit int64) ([]byte, func(), error) {
	archive, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(archive)) > limit {
		return nil, nil, fmt.Errorf("the archive is larger than %d bytes", limit)
	}
	return archive, func() {}, nil
}

func redact(u string) string {
	if i := strings.Index(u, "?"); i >= 0 {
		return u[:i]
	}
	return u
}

// forgeClient is what differs between GitHub and GitLab.
type forgeClient interface {
	archiveRequest(ctx context.Context, c commit) (*http.Request, error)
	setStatus(ctx context.Context, c commit, s status, name string) error
}

// readPayload reads a webhook body up to maxPayload.
func readPayload(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "reading the payload: "+err.Error(), http.StatusBadRequest)
		}
		return nil, false
	}
	return body, true
}

// validSignature checks GitHub's X-Hub-Signature-256 header.
func validSignature(secret string, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}

func validToken(secret, header string) bool {
	return subtle.ConstantTimeCompare([]byte(secret), []byte(header)) == 1
}

// postJSON sends a JSON request and fails on a non-2xx answer.
func postJSON(ctx context.Context, client *http.Client, url string, hdr http.Header, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(data)))
	if err != nil {
		return err
	}
	req.Header = hdr
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
