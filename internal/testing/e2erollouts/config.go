package e2erollouts

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/internal/testing/kubetest"
)

// FailingImage is the image of a test job's pod that KWOK ends with exit
// code 1; every other Job pod succeeds.
const FailingImage = "registry.example/fails:test"

// kwokConfig is KWOK's configuration: the node annotated
// kwok.x-k8s.io/node=fake is KWOK's; every pod becomes Running and Ready
// once scheduled; a Job's pod ends after jobDuration, with exit code 1 when
// its image is FailingImage and 0 otherwise; pods being deleted go at once.
func kwokConfig(jobDuration time.Duration) string {
	ms := jobDuration.Milliseconds()
	end := func(name, op string, code int, phase, reason string) string {
		return fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: %s}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
    - {key: '.status.phase', operator: In, values: [Running]}
    - {key: '.metadata.ownerReferences.[].kind', operator: In, values: [Job]}
    - {key: '.spec.containers.[].image', operator: %s, values: [%q]}
  delay:
    durationMilliseconds: %d
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated: {exitCode: %d, finishedAt: {{ $now | Quote }}, reason: %s, startedAt: {{ $now | Quote }}}
      {{ end }}
      phase: %s
`, name, op, FailingImage, ms, code, reason, phase)
	}
	return kubetest.KWOKConfig(end("job-pod-fail", "In", 1, "Failed", "Error"), end("job-pod-succeed", "NotIn", 0, "Succeeded", "Completed"))
}

// createNode creates the one node pods run on, managed by KWOK.
func (c *Cluster) createNode(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-0", Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"), corev1.ResourcePods: resource.MustParse("110"),
		}},
	}
	node.Status.Capacity = node.Status.Allocatable
	_, err := c.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	return err
}
