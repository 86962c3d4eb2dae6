package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkServe is the service's load benchmark: concurrent clients post
// an example bundle (tar.gz) over real HTTP on loopback to /v1/build, to a
// server that builds in worker processes (as pipec serve does) or in its
// own. It reports requests per second, the p50 and p99 latencies as seen
// by the clients, the server process's resident memory at the end, and the
// peak resident memory of its largest worker. Run it with:
//
//	go test ./internal/server -run '^$' -bench Serve -benchtime 200x
//
// hack/bench.sh runs it too.
func BenchmarkServe(b *testing.B) {
	for _, m := range modes {
		for _, bc := range []struct {
			ex      string
			clients int // per GOMAXPROCS
		}{{"go-service", 1}, {"go-service", 4}, {"shop", 1}, {"shop", 4}} {
			b.Run(fmt.Sprintf("%s/%s/clients=%dxP", m.name, bc.ex, bc.clients), func(b *testing.B) {
				cfg := m.cfg
				cfg.MaxQueue = 1024
				benchServe(b, cfg, bc.ex, bc.clients)
			})
		}
	}
}

func benchServe(b *testing.B, cfg Config, ex string, clients int) {
	base := start(b, New(cfg))
	body := tarball(b, true, entries(exampleFiles(b, ex), "")...)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	// With as many clients as build slots nothing queues; with 4x,
	// requests wait for a slot.
	b.SetParallelism(clients)
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
	b.ReportMetric(procMiB("self", "VmRSS"), "server-MiB")
	var peak float64
	for _, pid := range children(b) {
		peak = max(peak, procMiB(pid, "VmHWM"))
	}
	b.ReportMetric(peak, "worker-peak-MiB")
}

// procMiB reads a memory figure (VmRSS, VmHWM) of a process from /proc, in
// MiB; 0 where there is no /proc.
func procMiB(pid, field string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
