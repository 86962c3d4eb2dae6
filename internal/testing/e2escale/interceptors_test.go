package e2escale

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	triggersv1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1beta1"
	"github.com/tektoncd/triggers/pkg/interceptors"
	"github.com/tektoncd/triggers/pkg/interceptors/server"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestInterceptorsClientRate holds the client rate the harness runs
// Triggers' core interceptors with (startInterceptors) to Triggers' own
// interceptors server: a burst of deliveries that all miss the GitHub
// interceptor's secret cache, against an API server that answers each
// read after half a second, all pass at interceptorsQPS, while at
// client-go's default rate the last of them are dropped
// (tektoncd/triggers#1737).
func TestInterceptorsClientRate(t *testing.T) {
	const (
		deliveries = 25 // what CI fires: hack/test.sh's 50 runs, two push triggers
		secret     = "s3cr3t"
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(500 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"github-webhook","namespace":"ci"},"data":{"secret":"czNjcjN0"}}`)
	}))
	defer api.Close()
	body := `{"ref":"refs/heads/main"}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req, _ := json.Marshal(triggersv1.InterceptorRequest{
		Body: body,
		Header: map[string][]string{"Content-Type": {"application/json"}, "X-Github-Event": {"push"},
			"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(mac.Sum(nil))}},
		InterceptorParams: map[string]any{"eventTypes": []string{"push"},
			"secretRef": map[string]string{"secretName": "github-webhook", "secretKey": "secret"}},
		Context: &triggersv1.TriggerContext{EventID: "e", TriggerID: "namespaces/ci/triggerGroups/github"},
	})
	for _, tc := range []struct {
		name        string
		qps         float32
		burst       int
		wantDropped bool
	}{
		{"client-go's default rate", 0, 0, true},
		{"the harness's rate", interceptorsQPS, interceptorsBurst, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := kubernetes.NewForConfig(&rest.Config{Host: api.URL, QPS: tc.qps, Burst: tc.burst})
			if err != nil {
				t.Fatal(err)
			}
			s, err := server.NewWithCoreInterceptors(interceptors.DefaultSecretGetter(cs.CoreV1()), zap.NewNop().Sugar())
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var dropped []string
			var wg sync.WaitGroup
			for range deliveries {
				wg.Go(func() {
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/github", bytes.NewReader(req)))
					var resp triggersv1.InterceptorResponse
					if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || !resp.Continue {
						mu.Lock()
						dropped = append(dropped, strings.TrimSpace(rec.Body.String()))
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if tc.wantDropped && len(dropped) == 0 {
				t.Errorf("all %d deliveries passed: the case no longer shows the loss the harness's rate avoids", deliveries)
			}
			if !tc.wantDropped && len(dropped) > 0 {
				t.Errorf("%d of %d deliveries dropped, the first: %s", len(dropped), deliveries, dropped[0])
			}
			t.Logf("%d of %d dropped", len(dropped), deliveries)
		})
	}
}
