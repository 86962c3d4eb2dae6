package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/report"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	builds      *prometheus.HistogramVec
	findings    *prometheus.CounterVec
	inFlight    prometheus.Gauge
	rejected    *prometheus.CounterVec
	bundleBytes prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pipec_http_requests_total",
			Help: "HTTP requests by handler, method and status code.",
		}, []string{"handler", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pipec_http_request_duration_seconds",
			Help:    "HTTP request latency by handler, from the first byte read to the last written.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"handler", "method", "code"}),
		builds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pipec_build_duration_seconds",
			Help:    "Time to load, check and compile one bundle, by result (pass, fail or error).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pipec_findings_total",
			Help: "Findings reported, by severity (deny, warn, info).",
		}, []string{"severity"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pipec_builds_in_flight",
			Help: "Builds running now.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pipec_builds_rejected_total",
			Help: "Requests refused with 503, by reason (queue_full, timeout, memory, cancelled, shutdown, uploads).",
		}, []string{"reason"}),
		bundleBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pipec_bundle_bytes",
			Help:    "Uncompressed size of the CUE files in accepted bundles.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 9),
		}),
	}
	for _, sev := range []string{"deny", "warn", "info"} {
		m.findings.WithLabelValues(sev)
	}
	for _, r := range []string{"pass", "fail", "error"} {
		m.builds.WithLabelValues(r)
	}
	for _, r := range []string{"queue_full", "timeout", "memory", "shutdown", "uploads"} {
		m.rejected.WithLabelValues(r)
	}
	m.reg.MustRegister(m.requests, m.duration, m.builds, m.findings, m.inFlight, m.rejected, m.bundleBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// instrument counts and times the requests a handler serves.
func (m *metrics) instrument(name string, h http.Handler) http.Handler {
	l := prometheus.Labels{"handler": name}
	return promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(l),
		promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(l), h))
}

func (m *metrics) observeBuild(d time.Duration, code int, rep *report.Report) {
	result := map[int]string{report.ExitOK: "pass", report.ExitFindings: "fail"}[code]
	if result == "" {
		result = "error"
	}
	m.builds.WithLabelValues(result).Observe(d.Seconds())
	c := rep.Counts()
	m.findings.WithLabelValues("deny").Add(float64(c.Deny))
	m.findings.WithLabelValues("warn").Add(float64(c.Warn))
	m.findings.WithLabelValues("info").Add(float64(c.Info))
}

// internalReport wraps an error that is not about the configuration.
func internalReport(err error) *report.Report {
	return &report.Report{Findings: diag.List{{Severity: diag.Error, Message: err.Error(), Source: "pipec"}}}
}
