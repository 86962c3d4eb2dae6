package e2escale

import (
	"fmt"
	"time"

	"github.com/pipec/pipec/internal/testing/kubetest"
)

// kwokConfig is KWOK's configuration: it manages the nodes Karpenter
// creates (and any node annotated kwok.x-k8s.io/node=fake), and moves pods
// through their lifecycle. Every pod becomes Running once scheduled; a
// TaskRun's pod then completes after taskDuration, each step container
// ending with the termination message Tekton's entrypoint would write
// (StartedAt to the second: Tekton rejects finer times) and the task
// results a pod's annotation sim.pipec.dev/results lists (termination
// message entries of type 1, comma-separated JSON objects), which a
// task's metadata passes on to its pods; pods being deleted go at once. Nodes keep KWOK's default stages.
func kwokConfig(taskDuration time.Duration) string {
	return kubetest.KWOKConfig(fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: pod-complete-taskrun}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
    - {key: '.status.phase', operator: In, values: [Running]}
    - {key: '.metadata.ownerReferences.[].kind', operator: In, values: [TaskRun]}
  delay:
    durationMilliseconds: %d
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $ts := dateInZone "2006-01-02T15:04:05Z" (now) "UTC" }}
      {{ $results := "" }}
      {{ with .metadata.annotations }}{{ with index . "sim.pipec.dev/results" }}{{ $results = printf ",%%s" . }}{{ end }}{{ end }}
      {{ $msg := printf "[{\"key\":\"StartedAt\",\"value\":\"%%s\",\"type\":3}%%s]" $ts $results }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
            message: {{ $msg | Quote }}
      {{ end }}
      phase: Succeeded
`, taskDuration.Milliseconds()))
}

// tektonWebhooks registers the Tekton webhook, which runs out of cluster:
// its Service is an ExternalName for localhost, with the webhook's port.
// The webhook fills in the certificate secret and the CA bundles itself.
func tektonWebhooks(port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: webhook-certs, namespace: tekton-pipelines}
---
apiVersion: v1
kind: Service
metadata: {name: tekton-pipelines-webhook, namespace: tekton-pipelines}
spec:
  type: ExternalName
  externalName: localhost
  ports: [{name: https-webhook, port: %[1]d}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: validation.webhook.pipeline.tekton.dev}
webhooks:
- admissionReviewVersions: [v1]
  clientConfig: {service: {name: tekton-pipelines-webhook, namespace: tekton-pipelines, port: %[1]d}}
  failurePolicy: Fail
  sideEffects: None
  name: validation.webhook.pipeline.tekton.dev
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: webhook.pipeline.tekton.dev}
webhooks:
- admissionReviewVersions: [v1]
  clientConfig: {service: {name: tekton-pipelines-webhook, namespace: tekton-pipelines, port: %[1]d}}
  failurePolicy: Fail
  sideEffects: None
  name: webhook.pipeline.tekton.dev
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: config.webhook.pipeline.tekton.dev}
webhooks:
- admissionReviewVersions: [v1]
  clientConfig: {service: {name: tekton-pipelines-webhook, namespace: tekton-pipelines, port: %[1]d}}
  failurePolicy: Fail
  sideEffects: None
  name: config.webhook.pipeline.tekton.dev
  objectSelector:
    matchLabels: {app.kubernetes.io/part-of: tekton-pipelines}
`, port)
}
