package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkServe is the service's load benchmark: concurrent clients post
// an example bundle (tar.gz) over real HTTP on loopback to /v1/build. It
// reports requests per second and the p50 and p99 latencies as seen by the
// clients. Run it with:
//
//	go test ./internal/server -run '^$' -bench Serve -benchtime 200x
//
// hack/bench.sh runs it too.
func BenchmarkServe(b *testing.B) {
	for _, bc := range []struct {
		ex      string
		clients int // per GOMAXPROCS
	}{{"go-service", 1}, {"go-service", 4}, {"shop", 1}, {"shop", 4}} {
		b.Run(fmt.Sprintf("%s/clients=%dxP", bc.ex, bc.clients), func(b *testing.B) {
			ex := bc.ex
			base := start(b, New(Config{MaxQueue: 1024}))
			body := tarball(b, true, entries(exampleFiles(b, ex), "")...)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var mu sync.Mutex
			var lat []time.Duration
			// With as many clients as build slots nothing queues; with 4x,
			// requests wait for a slot.
			b.SetParallelism(bc.clients)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					t0 := time.Now()
					resp, err := client.Post(base+"/v1/build", "application/gzip", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %s", resp.Status)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if len(lat) == 0 {
				return
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		})
	}
}
