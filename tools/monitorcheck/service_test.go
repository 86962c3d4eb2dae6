package monitorcheck

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/pipec/pipec/internal/server"
)

// TestServiceDashboard parses every expression of the Helm chart's Grafana
// dashboard with Prometheus' parser and checks that each metric it reads is
// one pipec serve exports.
func TestServiceDashboard(t *testing.T) {
	data, err := os.ReadFile("../../charts/pipec/dashboards/pipec.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}

	h := server.New(server.Config{}).Handler()
	// One request, so that the per-request series exist.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/vet", strings.NewReader("not a bundle")))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	exposition, _ := io.ReadAll(rec.Body)
	exported := map[string]bool{}
	for _, line := range strings.Split(string(exposition), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(name)
			exported[f[0]] = true
			if f[1] == "histogram" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					exported[f[0]+s] = true
				}
			}
		}
	}

	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			// Grafana substitutes its variables before Prometheus sees
			// the query.
			q := strings.ReplaceAll(tg.Expr, "$__rate_interval", "1m")
			expr, err := parser.ParseExpr(q)
			if err != nil {
				t.Errorf("panel %q: %v\n%s", p.Title, err, tg.Expr)
				continue
			}
			n++
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok && !exported[vs.Name] {
					t.Errorf("panel %q reads %s, which pipec serve does not export", p.Title, vs.Name)
				}
				return nil
			})
		}
	}
	if n < 8 {
		t.Fatalf("only %d expressions", n)
	}
}
