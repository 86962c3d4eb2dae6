// Package hpacheck tests pipec's HPA model (internal/sim) against the
// Kubernetes HPA controller's own replica calculator
// (k8s.io/kubernetes/pkg/controller/podautoscaler, v1.34.3). It is a
// separate module so that the main module does not depend on
// k8s.io/kubernetes.
package hpacheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unsafe"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/kubernetes/pkg/controller/podautoscaler"
	metricsclient "k8s.io/kubernetes/pkg/controller/podautoscaler/metrics"

	"github.com/pipec/pipec/internal/sim"
)

const namespace = "ci"

// fakeMetrics serves the same usage for every pod, and fixed external
// values.
type fakeMetrics struct {
	pods     metricsclient.PodMetricsInfo
	external []int64
}

func (f fakeMetrics) GetResourceMetric(context.Context, corev1.ResourceName, string, labels.Selector, string) (metricsclient.PodMetricsInfo, time.Time, error) {
	return f.pods, time.Now(), nil
}

func (f fakeMetrics) GetRawMetric(string, string, labels.Selector, labels.Selector) (metricsclient.PodMetricsInfo, time.Time, error) {
	return f.pods, time.Now(), nil
}

func (f fakeMetrics) GetObjectMetric(string, string, *autoscalingv2.CrossVersionObjectReference, labels.Selector) (int64, time.Time, error) {
	return 0, time.Now(), nil
}

func (f fakeMetrics) GetExternalMetric(string, string, labels.Selector) ([]int64, time.Time, error) {
	return f.external, time.Now(), nil
}

// calculator returns the upstream calculator over n ready pods, each
// requesting one CPU and using usageMilli of it.
func calculator(t *testing.T, n int32, usageMilli int64, external []int64) *podautoscaler.ReplicaCalculator {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	long := metav1.NewTime(time.Now().Add(-time.Hour))
	metrics := metricsclient.PodMetricsInfo{}
	for i := range n {
		name := fmt.Sprintf("pod-%d", i)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}}}},
			Status: corev1.PodStatus{
				Phase:      corev1.PodRunning,
				StartTime:  &long,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: long}},
			},
		}
		if err := indexer.Add(pod); err != nil {
			t.Fatal(err)
		}
		metrics[name] = metricsclient.PodMetric{Timestamp: time.Now(), Window: 30 * time.Second, Value: usageMilli}
	}
	return podautoscaler.NewReplicaCalculator(fakeMetrics{pods: metrics, external: external}, corelisters.NewPodLister(indexer), 2*time.Minute, 10*time.Second)
}

// tolerances builds the controller's Tolerances, whose fields are not
// exported, at the controller's default of 10% both ways.
func tolerances(v float64) podautoscaler.Tolerances {
	var t podautoscaler.Tolerances
	rv := reflect.ValueOf(&t).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetFloat(v)
	}
	return t
}

// TestProposalMatchesUpstream compares sim.Proposal with the upstream
// replica calculator on random inputs, for the three kinds of target
// pipec emits: CPU utilization, external average value (queued runs per
// replica) and external value.
func TestProposalMatchesUpstream(t *testing.T) {
	tol := tolerances(sim.Tolerance)
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	for i := range 3000 {
		current := int32(1 + rng.IntN(40))
		switch i % 3 {
		case 0: // Resource CPU utilization, in whole percent.
			utilization := int64(rng.IntN(300))
			target := int32(10 + rng.IntN(90))
			want, _, _, _, err := calculator(t, current, utilization*10, nil).GetResourceReplicas(ctx, current, target, corev1.ResourceCPU, tol, namespace, labels.Everything(), "")
			if err != nil {
				t.Fatal(err)
			}
			got := sim.Proposal(sim.Metric{Kind: sim.Utilization, Target: float64(target)}, float64(utilization), current)
			if got != want {
				t.Fatalf("utilization %d%% of target %d%% at %d replicas: pipec %d, Kubernetes %d", utilization, target, current, got, want)
			}
		case 1: // External metric, average value per replica.
			value := int64(rng.IntN(500))
			target := int64(1 + rng.IntN(20))
			want, _, _, err := calculator(t, current, 0, []int64{value * 1000}).GetExternalPerPodMetricReplicas(current, target*1000, "queued", tol, namespace, &metav1.LabelSelector{})
			if err != nil {
				t.Fatal(err)
			}
			got := sim.Proposal(sim.Metric{Kind: sim.AverageValue, Target: float64(target)}, float64(value), current)
			if got != want {
				t.Fatalf("external %d, %d per replica at %d replicas: pipec %d, Kubernetes %d", value, target, current, got, want)
			}
		case 2: // External metric, total value.
			value := int64(rng.IntN(500))
			target := int64(1 + rng.IntN(100))
			want, _, _, err := calculator(t, current, 0, []int64{value * 1000}).GetExternalMetricReplicas(current, target*1000, "queued", tol, namespace, &metav1.LabelSelector{}, labels.Everything())
			if err != nil {
				t.Fatal(err)
			}
			got := sim.Proposal(sim.Metric{Kind: sim.Value, Target: float64(target)}, float64(value), current)
			if got != want {
				t.Fatalf("external value %d of target %d at %d replicas: pipec %d, Kubernetes %d", value, target, current, got, want)
			}
		}
	}
}
