package e2escale

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/pipec/pipec/internal/testing/kubetest"
)

var pipelineRuns = schema.GroupVersionResource{Group: "tekton.dev", Version: "v1", Resource: "pipelineruns"}

// runningPipelineRunsMetric is Tekton's gauge of PipelineRuns not yet
// done, which Prometheus Adapter serves as an external metric in
// production.
const runningPipelineRunsMetric = "tekton_pipelines_controller_running_pipelineruns"

// storageClass is the cluster's default StorageClass. Like the block
// storage of a cloud, it binds a volume once the pod using it is scheduled
// (WaitForFirstConsumer), which Karpenter and the scheduler both take into
// account; provisionVolumes is its provisioner.
const storageClass = "sim-block"

func (c *Cluster) startInProcess(ctx context.Context) error {
	if err := c.startExternalMetrics(ctx); err != nil {
		return err
	}
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	if _, err := c.Kube.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: storageClass, Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       "sim.pipec.dev/volumes",
		VolumeBindingMode: &wffc,
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait.UntilWithContext(pctx, c.provisionVolumes, 500*time.Millisecond)
	}()
	c.stopInProcess = append(c.stopInProcess, func() { cancel(); <-done })
	return nil
}

// startExternalMetrics serves external.metrics.k8s.io/v1beta1 for the
// HorizontalPodAutoscaler controller, as an aggregated API: the metric
// tekton_pipelines_controller_running_pipelineruns, with a namespace label
// selector, is the number of PipelineRuns in that namespace that are not
// done, the value Tekton's controller exports.
func (c *Cluster) startExternalMetrics(ctx context.Context) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	_, certPEM, keyPEM, err := servingCerts("localhost")
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	const prefix = "/apis/external.metrics.k8s.io/v1beta1"
	mux := http.NewServeMux()
	mux.HandleFunc(prefix, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "external.metrics.k8s.io/v1beta1",
			"resources": []any{map[string]any{"name": runningPipelineRunsMetric, "namespaced": true, "kind": "ExternalMetricValueList", "verbs": []string{"get"}}}})
	})
	mux.HandleFunc(prefix+"/namespaces/{ns}/{metric}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("metric") != runningPipelineRunsMetric {
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`, http.StatusNotFound)
			return
		}
		ns := r.PathValue("ns")
		if sel := r.URL.Query().Get("labelSelector"); sel != "" {
			for _, kv := range strings.Split(sel, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok && k == "namespace" {
					ns = v
				}
			}
		}
		n, err := c.notDone(r.Context(), ns)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, map[string]any{"kind": "ExternalMetricValueList", "apiVersion": "external.metrics.k8s.io/v1beta1", "metadata": map[string]any{},
			"items": []any{map[string]any{"metricName": runningPipelineRunsMetric, "metricLabels": map[string]string{"namespace": ns},
				"timestamp": time.Now().UTC().Format(time.RFC3339), "value": strconv.Itoa(n)}}})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	c.stopInProcess = append(c.stopInProcess, func() { _ = srv.Close() })

	port := l.Addr().(*net.TCPAddr).Port
	objs, err := kubetest.DecodeYAML(fmt.Appendf(nil, `apiVersion: v1
kind: Service
metadata: {name: sim-metrics, namespace: kube-system}
spec:
  type: ExternalName
  externalName: localhost
  ports: [{name: https, port: %d}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.external.metrics.k8s.io}
spec:
  group: external.metrics.k8s.io
  version: v1beta1
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
  service: {name: sim-metrics, namespace: kube-system, port: %d}
`, port, port))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Create(ctx, o, false); err != nil {
			return err
		}
	}
	return nil
}

// notDone counts the PipelineRuns in ns whose Succeeded condition is
// neither True nor False.
func (c *Cluster) notDone(ctx context.Context, ns string) (int, error) {
	l, err := c.Dynamic().Resource(pipelineRuns).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, pr := range l.Items {
		if s, _ := kubetest.Condition(&pr, "Succeeded"); s != "True" && s != "False" {
			n++
		}
	}
	return n, nil
}

// provisionVolumes is the default StorageClass's provisioner: for every
// claim of that class the scheduler has chosen a node for, it creates a
// volume in that node's zone, pre-bound to the claim, which the controller
// manager's volume binder then binds; volumes whose claim is gone are
// deleted.
func (c *Cluster) provisionVolumes(ctx context.Context) {
	pvcs, err := c.Kube.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, pvc := range pvcs.Items {
		node := pvc.Annotations["volume.kubernetes.io/selected-node"]
		if pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending || pvc.DeletionTimestamp != nil || node == "" ||
			pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != storageClass {
			continue
		}
		// Like a cloud's block storage, the volume lives in the zone of
		// the node chosen for its first pod (the node itself when it has
		// no zone label), so later pods of the run may go to any node of
		// that zone.
		n, err := c.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			continue
		}
		key, value := corev1.LabelTopologyZone, n.Labels[corev1.LabelTopologyZone]
		if value == "" {
			key, value = corev1.LabelHostname, n.Labels[corev1.LabelHostname]
		}
		size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		if size.IsZero() {
			size = resource.MustParse("1Gi")
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "sim-" + string(pvc.UID), Labels: map[string]string{"sim.pipec.dev/provisioned": "true"}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
				AccessModes:                   pvc.Spec.AccessModes,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/sim/" + string(pvc.UID)}},
				ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
				StorageClassName:              storageClass,
				NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}}},
				}}}},
			},
		}
		if _, err := c.Kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			continue
		}
	}
	pvs, err := c.Kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: "sim.pipec.dev/provisioned=true"})
	if err != nil {
		return
	}
	for _, pv := range pvs.Items {
		if pv.Status.Phase == corev1.VolumeReleased || pv.Status.Phase == corev1.VolumeFailed {
			_ = c.Kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
