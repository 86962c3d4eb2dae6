package webhook

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipec/pipec/internal/report"
	"github.com/pipec/pipec/internal/server"
)

const (
	goodSHA = "1111111111111111111111111111111111111111"
	badSHA  = "2222222222222222222222222222222222222222"
	lostSHA = "3333333333333333333333333333333333333333"
)

// fakeForge serves commit archives and records commit statuses, the way
// GitHub's and GitLab's REST APIs do.
type fakeForge struct {
	t        *testing.T
	archives map[string][]byte // by sha
	mu       sync.Mutex
	statuses []map[string]string
	auth     []string
}

func (f *fakeForge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.auth = append(f.auth, r.Header.Get("Authorization")+r.Header.Get("Private-Token"))
	f.mu.Unlock()
	p := r.URL.Path
	switch {
	case r.Method == "GET" && strings.HasPrefix(p, "/repos/acme/app/tarball/"):
		f.archive(w, strings.TrimPrefix(p, "/repos/acme/app/tarball/"))
	case r.Method == "GET" && p == "/api/v4/projects/42/repository/archive.tar.gz":
		f.archive(w, r.URL.Query().Get("sha"))
	case r.Method == "POST" && (strings.HasPrefix(p, "/repos/acme/app/statuses/") || strings.HasPrefix(p, "/api/v4/projects/42/statuses/")):
		var st map[string]string
		if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
			f.t.Errorf("status body: %v", err)
		}
		st["sha"] = p[strings.LastIndex(p, "/")+1:]
		f.mu.Lock()
		f.statuses = append(f.statuses, st)
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeForge) archive(w http.ResponseWriter, sha string) {
	data, ok := f.archives[sha]
	if !ok {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	w.Write(data)
}

func (f *fakeForge) take() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.statuses
	f.statuses = nil
	return s
}

// archive makes a forge-style tar.gz: every file under one top-level
// directory.
func archive(t *testing.T, top string, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: top + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: top + "/" + name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func exampleArchive(t *testing.T, top string) []byte {
	files := map[string]string{"README.md": "# app\n", "main.go": "package main\n"}
	dir := filepath.Join("..", "..", "examples", "go-service")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".cue" {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files["ci/"+e.Name()] = string(data)
		}
	}
	return archive(t, top, files)
}

func setup(t *testing.T) (*Handler, *fakeForge, *httptest.Server) {
	forge := &fakeForge{t: t, archives: map[string][]byte{
		goodSHA: exampleArchive(t, "acme-app-1111111"),
		badSHA: archive(t, "acme-app-2222222", map[string]string{
			"ci/pipec.cue": "package ci\n\npipelines: app: tasks: a: steps: [{name: \"s\", image: \"busybox:latest\", script: \"true\"}]\n",
		}),
	}}
	api := httptest.NewServer(forge)
	t.Cleanup(api.Close)
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h, err := New(Config{
		GitHub: &Forge{APIURL: api.URL, SecretFile: write("gh-secret", "s3cret\n"), TokenFile: write("gh-token", "ghtok\n")},
		GitLab: &Forge{APIURL: api.URL + "/api/v4", SecretFile: write("gl-secret", "glsecret"), TokenFile: write("gl-token", "gltok")},
		Dir:    "ci",
		Vet:    server.New(server.Config{}).VetArchive,
	})
	if err != nil {
		t.Fatal(err)
	}
	hooks := httptest.NewServer(h)
	t.Cleanup(hooks.Close)
	return h, forge, hooks
}

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func send(t *testing.T, url string, hdr map[string]string, body string) (int, string) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func wait(t *testing.T, h *Handler) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func github(t *testing.T, url, event, body string) (int, string) {
	return send(t, url+"/v1/webhooks/github", map[string]string{"X-GitHub-Event": event, "X-Hub-Signature-256": sign("s3cret", []byte(body))}, body)
}

func TestGitHub(t *testing.T) {
	h, forge, hooks := setup(t)

	t.Run("rejects a bad signature", func(t *testing.T) {
		body := `{"after":"` + goodSHA + `","repository":{"full_name":"acme/app"}}`
		code, msg := send(t, hooks.URL+"/v1/webhooks/github", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign("wrong", []byte(body))}, body)
		if code != 401 || !strings.Contains(msg, "X-Hub-Signature-256") {
			t.Fatalf("%d %s", code, msg)
		}
		code, _ = send(t, hooks.URL+"/v1/webhooks/github", map[string]string{"X-GitHub-Event": "push"}, body)
		if code != 401 {
			t.Fatalf("unsigned: %d", code)
		}
	})
	t.Run("ping", func(t *testing.T) {
		if code, msg := github(t, hooks.URL, "ping", `{"zen":"hi"}`); code != 200 || msg != "pong\n" {
			t.Fatalf("%d %s", code, msg)
		}
	})
	t.Run("push of a valid configuration", func(t *testing.T) {
		code, msg := github(t, hooks.URL, "push", `{"after":"`+goodSHA+`","repository":{"full_name":"acme/app"}}`)
		if code != 202 {
			t.Fatalf("%d %s", code, msg)
		}
		wait(t, h)
		got := forge.take()
		if len(got) != 2 || got[0]["state"] != "pending" || got[1]["state"] != "success" || got[1]["context"] != "pipec" || got[1]["sha"] != goodSHA {
			t.Fatalf("statuses = %v, want pending then success on %s", got, goodSHA)
		}
	})
	t.Run("pull request with a policy violation", func(t *testing.T) {
		code, _ := github(t, hooks.URL, "pull_request", `{"action":"synchronize","repository":{"full_name":"acme/app"},"pull_request":{"head":{"sha":"`+badSHA+`"}}}`)
		if code != 202 {
			t.Fatal(code)
		}
		wait(t, h)
		got := forge.take()
		if len(got) != 2 || got[1]["state"] != "failure" || !strings.HasPrefix(got[1]["description"], "1 deny, 0 warn: acme-app-2222222/ci/pipec.cue:3:54:") || len(got[1]["description"]) > 140 {
			t.Fatalf("statuses = %v", got)
		}
	})
	t.Run("a commit that cannot be downloaded", func(t *testing.T) {
		code, _ := github(t, hooks.URL, "push", `{"after":"`+lostSHA+`","repository":{"full_name":"acme/app"}}`)
		if code != 202 {
			t.Fatal(code)
		}
		wait(t, h)
		got := forge.take()
		if len(got) != 2 || got[1]["state"] != "error" || !strings.Contains(got[1]["description"], "404") {
			t.Fatalf("statuses = %v", got)
		}
	})
	t.Run("ignores what needs no check", func(t *testing.T) {
		for _, tc := range []struct{ event, body, want string }{
			{"pull_request", `{"action":"closed","repository":{"full_name":"acme/app"},"pull_request":{"head":{"sha":"` + goodSHA + `"}}}`, "ignored: pull_request closed"},
			{"push", `{"after":"0000000000000000000000000000000000000000","deleted":true,"repository":{"full_name":"acme/app"}}`, "ignored: branch deleted"},
			{"issues", `{}`, `ignored: event "issues"`},
		} {
			if code, msg := github(t, hooks.URL, tc.event, tc.body); code != 200 || !strings.Contains(msg, tc.want) {
				t.Errorf("%s: %d %s", tc.event, code, msg)
			}
		}
		if got := forge.take(); len(got) != 0 {
			t.Errorf("statuses = %v, want none", got)
		}
	})
	t.Run("malformed payloads", func(t *testing.T) {
		if code, _ := github(t, hooks.URL, "push", `{not json`); code != 400 {
			t.Errorf("bad JSON: %d", code)
		}
		if code, _ := github(t, hooks.URL, "push", `{"after":"../../x","repository":{"full_name":"acme/app"}}`); code != 400 {
			t.Errorf("bad sha: %d", code)
		}
		// Validly signed, but naming a repository that would send the
		// token elsewhere on the API.
		for _, name := range []string{"../../admin/keys", "acme/..", "acme/app/../../x", "acme", "ac%2Fme/app", "acme/app?x=1", "../app", "acme/a b"} {
			body := `{"after":"` + goodSHA + `","repository":{"full_name":"` + name + `"}}`
			if code, msg := github(t, hooks.URL, "push", body); code != 400 || !strings.Contains(msg, "is not a GitHub owner/name") {
				t.Errorf("repository %q: %d %s", name, code, msg)
			}
		}
		if got := forge.take(); len(got) != 0 {
			t.Errorf("statuses = %v, want none", got)
		}
	})
	t.Run("a replayed delivery is not checked again", func(t *testing.T) {
		body := `{"after":"` + goodSHA + `","repository":{"full_name":"acme/app"},"ref":"refs/heads/replayed"}`
		hdr := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign("s3cret", []byte(body)), "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
		if code, msg := send(t, hooks.URL+"/v1/webhooks/github", hdr, body); code != 202 {
			t.Fatalf("first: %d %s", code, msg)
		}
		wait(t, h)
		if got := forge.take(); len(got) != 2 {
			t.Fatalf("statuses = %v", got)
		}
		// The delivery id is not signed: another one changes nothing.
		for _, id := range []string{"72d3162e-cc78-11e3-81ab-4c9367dc0958", "forged", ""} {
			hdr["X-GitHub-Delivery"] = id
			if code, msg := send(t, hooks.URL+"/v1/webhooks/github", hdr, body); code != 200 || !strings.Contains(msg, "handled already") {
				t.Fatalf("replay with delivery id %q: %d %s", id, code, msg)
			}
		}
		wait(t, h)
		if got := forge.take(); len(got) != 0 {
			t.Fatalf("the replays posted %v", got)
		}
		// A check that ended in an error can be redelivered.
		lost := `{"after":"` + lostSHA + `","repository":{"full_name":"acme/app"},"ref":"refs/heads/replayed"}`
		for range 2 {
			if code, msg := github(t, hooks.URL, "push", lost); code != 202 {
				t.Fatalf("a redelivery after an error: %d %s", code, msg)
			}
			wait(t, h)
			if got := forge.take(); len(got) != 2 || got[1]["state"] != "error" {
				t.Fatalf("statuses = %v", got)
			}
		}
	})
	t.Run("a form-encoded delivery", func(t *testing.T) {
		body := url.Values{"payload": {`{"after":"` + goodSHA + `","repository":{"full_name":"acme/app"}}`}}.Encode()
		hdr := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign("s3cret", []byte(body)), "Content-Type": "application/x-www-form-urlencoded"}
		if code, msg := send(t, hooks.URL+"/v1/webhooks/github", hdr, body); code != 202 {
			t.Fatalf("%d %s", code, msg)
		}
		wait(t, h)
		if got := forge.take(); len(got) != 2 || got[1]["state"] != "success" {
			t.Fatalf("statuses = %v", got)
		}
		hdr["X-Hub-Signature-256"] = sign("s3cret", []byte("x=1"))
		if code, msg := send(t, hooks.URL+"/v1/webhooks/github", hdr, "x=1"); code != 400 || !strings.Contains(msg, "payload field") {
			t.Fatalf("a form without payload: %d %s", code, msg)
		}
	})
	for _, a := range forge.auth {
		if a != "Bearer ghtok" && a != "" {
			t.Errorf("the fake forge saw credentials %q", a)
		}
	}
}

func TestValidRepo(t *testing.T) {
	for _, ok := range []string{"acme/app", "mona_acme/app", "acme/.github", "3scale/app.js", "a-b/c_d.e-f", "legacy-/x"} {
		if !validRepo(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"acme", "acme/", "/app", "acme/app/x", "../app", "acme/..", "./app", "acme/a b", "ac%2Fme/app", "acme/app?x", "acme/app#x"} {
		if validRepo(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestGitLab(t *testing.T) {
	h, forge, hooks := setup(t)
	gitlab := func(token, event, body string) (int, string) {
		return send(t, hooks.URL+"/v1/webhooks/gitlab", map[string]string{"X-Gitlab-Token": token, "X-Gitlab-Event": event}, body)
	}
	if code, _ := gitlab("nope", "Push Hook", `{"object_kind":"push"}`); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	code, msg := gitlab("glsecret", "Merge Request Hook", `{"object_kind":"merge_request","object_attributes":{"action":"open","source_project_id":42,"last_commit":{"id":"`+badSHA+`"}}}`)
	if code != 202 {
		t.Fatalf("%d %s", code, msg)
	}
	wait(t, h)
	got := forge.take()
	if len(got) != 2 || got[0]["state"] != "running" || got[1]["state"] != "failed" || got[1]["name"] != "pipec" {
		t.Fatalf("statuses = %v", got)
	}
	if code, _ := gitlab("glsecret", "Push Hook", `{"object_kind":"push","project_id":42,"checkout_sha":"`+goodSHA+`"}`); code != 202 {
		t.Fatal(code)
	}
	wait(t, h)
	if got := forge.take(); len(got) != 2 || got[1]["state"] != "success" {
		t.Fatalf("statuses = %v", got)
	}
	if code, msg := gitlab("glsecret", "Merge Request Hook", `{"object_kind":"merge_request","object_attributes":{"action":"update","source_project_id":42,"last_commit":{"id":"`+goodSHA+`"}}}`); code != 200 || !strings.Contains(msg, "ignored") {
		t.Fatalf("a title edit: %d %s", code, msg)
	}
	for _, a := range forge.auth {
		if a != "gltok" {
			t.Errorf("the fake forge saw credentials %q, want the GitLab token", a)
		}
	}
}

func TestNewNeedsItsFiles(t *testing.T) {
	_, err := New(Config{GitHub: &Forge{APIURL: "https://api.github.com", SecretFile: "/nonexistent/secret", TokenFile: "/nonexistent/token"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/secret") {
		t.Fatalf("err = %v", err)
	}
	_, err = New(Config{GitLab: &Forge{APIURL: "https://gitlab.com/api/v4", SecretFile: "x"}})
	if err == nil || !strings.Contains(err.Error(), "token file") {
		t.Fatalf("err = %v", err)
	}
}

// TestDownloadsHeldAgainstTheServersMemory: given the server's
// ReadArchive, as pipec serve gives it, the handler reads archives within
// the memory the server gives uploads: the server's budget is taken
// while the check runs, and given back when it is over.
func TestDownloadsHeldAgainstTheServersMemory(t *testing.T) {
	h, forge, hooks := setup(t)
	s := server.New(server.Config{})
	h.cfg.ReadArchive = s.ReadArchive
	var during atomic.Int64
	h.cfg.Vet = func(ctx context.Context, archive []byte, dir string) (*report.Report, int, error) {
		during.Store(uploadMemory(t, s))
		if held := during.Load(); held < int64(len(archive)) {
			t.Errorf("the server holds %d bytes while the check runs on a %d-byte archive", held, len(archive))
		}
		return s.VetArchive(ctx, archive, dir)
	}
	body := `{"after":"` + goodSHA + `","repository":{"full_name":"acme/app"}}`
	if code, msg := github(t, hooks.URL, "push", body); code != http.StatusAccepted {
		t.Fatalf("%d %s", code, msg)
	}
	wait(t, h)
	if during.Load() == 0 {
		t.Error("the server held nothing while the check ran")
	}
	if held := uploadMemory(t, s); held != 0 {
		t.Errorf("the server holds %d bytes after the check", held)
	}
	statuses := forge.take()
	if len(statuses) == 0 || statuses[len(statuses)-1]["state"] != "success" {
		t.Errorf("statuses %v, want success last", statuses)
	}
}

// uploadMemory reads pipec_upload_memory_bytes from the server's metrics.
func uploadMemory(t *testing.T, s *server.Server) int64 {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "pipec_upload_memory_bytes "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int64(n)
		}
	}
	t.Fatal("no pipec_upload_memory_bytes in the metrics")
	return 0
}

// TestChecksStopWithTheirContext: when Config.Context is cancelled (at
// the shutdown timeout), a check still waiting for memory stops and
// reports an error.
func TestChecksStopWithTheirContext(t *testing.T) {
	h, forge, hooks := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	h.cfg.Context = ctx
	waiting := make(chan struct{})
	h.cfg.ReadArchive = func(ctx context.Context, r io.Reader, size, limit int64) ([]byte, func(), error) {
		close(waiting)
		<-ctx.Done() // no room, ever
		return nil, nil, ctx.Err()
	}
	body := `{"after":"` + goodSHA + `","repository":{"full_name":"acme/app"}}`
	if code, msg := github(t, hooks.URL, "push", body); code != http.StatusAccepted {
		t.Fatalf("%d %s", code, msg)
	}
	<-waiting
	cancel()
	wait(t, h)
	statuses := forge.take()
	if len(statuses) == 0 || statuses[len(statuses)-1]["state"] != "error" {
		t.Errorf("statuses %v, want error last", statuses)
	}
}
