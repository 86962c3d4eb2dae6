package e2escale

import (
	"context"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	triggersapi "github.com/tektoncd/triggers/pkg/apis/triggers"

	"github.com/pipec/pipec/internal/testing/kubetest"
)

// The labels the EventListener puts on what it creates: the event and
// the Trigger.
var (
	eventIDLabel = triggersapi.GroupName + triggersapi.EventIDLabelKey
	triggerLabel = triggersapi.GroupName + triggersapi.TriggerLabelKey
)

var (
	taskRuns   = schema.GroupVersionResource{Group: "tekton.dev", Version: "v1", Resource: "taskruns"}
	nodeClaims = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}
)

// runRecord is what the observer saw of one PipelineRun, in the
// observer's clock (the API server's timestamps have whole seconds).
type runRecord struct {
	Name       string
	Event      string // the EventListener's event ID that started it
	Trigger    string // and its trigger
	Created    time.Time
	FirstPod   time.Time // first of its pods Running
	Done       time.Time
	Status     string // Succeeded's status when done: True or False
	Reason     string
	QuotaWaits bool // a TaskRun of it waited for the namespace quota
}

// Sample is the cluster's state at one moment of a run.
type Sample struct {
	At          time.Duration `json:"at"`
	Created     int           `json:"pipelineRunsCreated"`
	Waiting     int           `json:"pipelineRunsWaiting"` // created, no pod running yet
	Running     int           `json:"pipelineRunsRunning"` // a pod has run, not done
	Done        int           `json:"pipelineRunsDone"`
	PendingPods int           `json:"pendingPods"` // TaskRun pods
	RunningPods int           `json:"runningPods"`
	// AssistantPods are Tekton's affinity assistants, one per run with a
	// volume workspace, which the pod quota counts too.
	AssistantPods int   `json:"affinityAssistantPods"`
	Nodes         int   `json:"poolNodes"`
	NodeClaims    int   `json:"nodeClaims"`
	Replicas      int32 `json:"replicas"`
	QuotaWaiting  int   `json:"taskRunsWaitingForQuota"`
}

// observer follows the namespace and the pool with informers, so the
// measurement adds little load to the control plane it measures.
type observer struct {
	ns, pool, hpa string
	start         time.Time

	mu        sync.Mutex
	runs      map[string]*runRecord
	quotaTRs  map[string]bool // TaskRuns that waited for quota, ever
	waitingTR map[string]bool // TaskRuns waiting for quota now
	pods      map[string]*corev1.Pod
	nodes     map[string]bool // pool nodes now
	allNodes  map[string]bool // pool nodes ever
	claims    map[string]bool
	replicas  int32
}

func newObserver(ns, pool, hpa string) *observer {
	return &observer{ns: ns, pool: pool, hpa: hpa, runs: map[string]*runRecord{}, quotaTRs: map[string]bool{},
		waitingTR: map[string]bool{}, pods: map[string]*corev1.Pod{}, nodes: map[string]bool{}, allNodes: map[string]bool{},
		claims: map[string]bool{}}
}

func handler(add func(obj any), del func(obj any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    add,
		UpdateFunc: func(_, obj any) { add(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			del(obj)
		},
	}
}

// run starts the informers, which run until ctx ends, and waits for their
// caches.
func (o *observer) run(ctx context.Context, c *Cluster) {
	kf := informers.NewSharedInformerFactoryWithOptions(c.Kube, 0, informers.WithNamespace(o.ns))
	nf := informers.NewSharedInformerFactory(c.Kube, 0)
	df := dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.Dynamic(), 0, o.ns, nil)
	cf := dynamicinformer.NewDynamicSharedInformerFactory(c.Dynamic(), 0)

	_, _ = df.ForResource(pipelineRuns).Informer().AddEventHandler(handler(func(obj any) {
		u := obj.(*unstructured.Unstructured)
		now := time.Now()
		o.mu.Lock()
		defer o.mu.Unlock()
		r := o.runs[u.GetName()]
		if r == nil {
			l := u.GetLabels()
			r = &runRecord{Name: u.GetName(), Created: now, Event: l[eventIDLabel], Trigger: l[triggerLabel]}
			o.runs[u.GetName()] = r
		}
		if s, reason := kubetest.Condition(u, "Succeeded"); (s == "True" || s == "False") && r.Done.IsZero() {
			r.Done, r.Status, r.Reason = now, s, reason
		}
	}, func(any) {}))
	_, _ = df.ForResource(taskRuns).Informer().AddEventHandler(handler(func(obj any) {
		u := obj.(*unstructured.Unstructured)
		_, reason := kubetest.Condition(u, "Succeeded")
		o.mu.Lock()
		defer o.mu.Unlock()
		if reason == "ExceededResourceQuota" {
			o.quotaTRs[u.GetName()] = true
			o.waitingTR[u.GetName()] = true
			if r := o.runs[u.GetLabels()["tekton.dev/pipelineRun"]]; r != nil {
				r.QuotaWaits = true
			}
		} else {
			delete(o.waitingTR, u.GetName())
		}
	}, func(obj any) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			o.mu.Lock()
			delete(o.waitingTR, u.GetName())
			o.mu.Unlock()
		}
	}))
	_, _ = kf.Core().V1().Pods().Informer().AddEventHandler(handler(func(obj any) {
		p := obj.(*corev1.Pod)
		now := time.Now()
		o.mu.Lock()
		defer o.mu.Unlock()
		o.pods[p.Name] = p
		if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded {
			if r := o.runs[p.Labels["tekton.dev/pipelineRun"]]; r != nil && r.FirstPod.IsZero() {
				r.FirstPod = now
			}
		}
	}, func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			o.mu.Lock()
			delete(o.pods, p.Name)
			o.mu.Unlock()
		}
	}))
	_, _ = kf.Autoscaling().V2().HorizontalPodAutoscalers().Informer().AddEventHandler(handler(func(obj any) {
		h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
		if h.Name != o.hpa {
			return
		}
		o.mu.Lock()
		o.replicas = h.Status.CurrentReplicas
		o.mu.Unlock()
	}, func(any) {}))
	_, _ = nf.Core().V1().Nodes().Informer().AddEventHandler(handler(func(obj any) {
		n := obj.(*corev1.Node)
		if n.Labels["karpenter.sh/nodepool"] != o.pool {
			return
		}
		o.mu.Lock()
		o.nodes[n.Name], o.allNodes[n.Name] = true, true
		o.mu.Unlock()
	}, func(obj any) {
		if n, ok := obj.(*corev1.Node); ok {
			o.mu.Lock()
			delete(o.nodes, n.Name)
			o.mu.Unlock()
		}
	}))
	_, _ = cf.ForResource(nodeClaims).Informer().AddEventHandler(handler(func(obj any) {
		u := obj.(*unstructured.Unstructured)
		if u.GetLabels()["karpenter.sh/nodepool"] != o.pool {
			return
		}
		o.mu.Lock()
		o.claims[u.GetName()] = true
		o.mu.Unlock()
	}, func(obj any) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			o.mu.Lock()
			delete(o.claims, u.GetName())
			o.mu.Unlock()
		}
	}))
	for _, f := range []interface{ Start(<-chan struct{}) }{kf, nf, df, cf} {
		f.Start(ctx.Done())
	}
	kf.WaitForCacheSync(ctx.Done())
	nf.WaitForCacheSync(ctx.Done())
	df.WaitForCacheSync(ctx.Done())
	cf.WaitForCacheSync(ctx.Done())
}

// lastDone is when the last run finished, from the first delivery; the
// time since then if a run has not.
func (o *observer) lastDone() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	var last time.Duration
	for _, r := range o.runs {
		if r.Done.IsZero() {
			return time.Since(o.start)
		}
		last = max(last, r.Done.Sub(o.start))
	}
	return last
}

// byEvent returns the runs seen, by the event that started them.
func (o *observer) byEvent() map[string][]runRecord {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]runRecord{}
	for _, r := range o.runs {
		out[r.Event] = append(out[r.Event], *r)
	}
	return out
}

// sample takes the state now.
func (o *observer) sample() Sample {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Sample{At: time.Since(o.start), Nodes: len(o.nodes), NodeClaims: len(o.claims), Replicas: o.replicas,
		QuotaWaiting: len(o.waitingTR), Created: len(o.runs)}
	for _, r := range o.runs {
		switch {
		case r.Done.IsZero() && r.FirstPod.IsZero():
			s.Waiting++
		case r.Done.IsZero():
			s.Running++
		default:
			s.Done++
		}
	}
	for _, p := range o.pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if p.Labels["app.kubernetes.io/component"] == "affinity-assistant" {
			s.AssistantPods++
			continue
		}
		if p.Labels["tekton.dev/taskRun"] == "" {
			continue
		}
		switch p.Status.Phase {
		case corev1.PodPending, "":
			s.PendingPods++
		case corev1.PodRunning:
			s.RunningPods++
		}
	}
	return s
}
