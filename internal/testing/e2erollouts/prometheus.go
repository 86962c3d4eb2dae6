package e2erollouts

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Prometheus serves Prometheus' instant query API (/api/v1/query), as the
// Argo Rollouts controller's Prometheus provider calls it: every query
// that selects namespace="<ns>" returns the value set for that namespace,
// as a one-sample vector. It records the queries it answers.
type Prometheus struct {
	URL string

	mu      sync.Mutex
	values  map[string]float64
	queries []Query
	srv     *http.Server
}

// Query is a query the endpoint answered.
type Query struct {
	At        time.Time
	Namespace string
	PromQL    string
	Value     float64
}

var namespaceRE = regexp.MustCompile(`namespace="([^"]+)"`)

// StartPrometheus starts the endpoint on loopback.
func StartPrometheus() (*Prometheus, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Prometheus{URL: "http://" + l.Addr().String(), values: map[string]float64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", p.query)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// Set makes queries about namespace ns return v.
func (p *Prometheus) Set(ns string, v float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.values[ns] = v
}

// Queries returns the queries answered about namespace ns.
func (p *Prometheus) Queries(ns string) []Query {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Query
	for _, q := range p.queries {
		if q.Namespace == ns {
			out = append(out, q)
		}
	}
	return out
}

// Stop stops the endpoint.
func (p *Prometheus) Stop() { _ = p.srv.Close() }

func (p *Prometheus) query(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.Form.Get("query")
	m := namespaceRE.FindStringSubmatch(q)
	w.Header().Set("Content-Type", "application/json")
	if m == nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": "bad_data", "error": "no namespace matcher in " + q})
		return
	}
	p.mu.Lock()
	v, ok := p.values[m[1]]
	p.queries = append(p.queries, Query{At: time.Now(), Namespace: m[1], PromQL: q, Value: v})
	p.mu.Unlock()
	result := []any{}
	if ok {
		now := float64(time.Now().UnixMilli()) / 1000
		result = append(result, map[string]any{"metric": map[string]string{}, "value": []any{now, strconv.FormatFloat(v, 'f', -1, 64)}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data":   map[string]any{"resultType": "vector", "result": result},
	})
}

func (q Query) String() string {
	return fmt.Sprintf("%s %s = %v", q.At.Format("15:04:05.000"), q.Namespace, q.Value)
}
