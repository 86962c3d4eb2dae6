// Package monitorcheck tests pipec's monitoring output against the
// upstream code that reads it: kube-state-metrics' custom resource state
// metrics turn sample PipelineRuns into the series pipec's alerts query,
// and Prometheus' own PromQL parser and engine check and evaluate every
// alert and dashboard expression. It is a separate module so that the
// main module does not depend on Prometheus and kube-state-metrics.
package monitorcheck
