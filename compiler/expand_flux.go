package compiler

import (
	"strings"

	"github.com/pipec/pipec/targets/flux"
)

// fluxDeployScript commits the image digest as a kustomize Component
// (flux.ComponentDir/<application>/kustomization.yaml) into the app's
// source, which the Flux Kustomization of the app's first environment
// includes (spec.components, ignoreMissingComponents until the first
// deploy); Flux then applies the new image. Nothing is pushed when the
// digest is already deployed. Flux's own image automation is not used:
// it would pick the newest image a registry scan finds, not the digest
// this pipeline built and tested.
var fluxDeployScript = strings.Replace(strings.Replace(deployScript,
	`file=".argocd-source-$(params.application).yaml"
printf 'kustomize:\n  images:\n  - %s@%s\n' "$(params.image)" "$(params.digest)" > "$file"`,
	`file="`+flux.ComponentDir+`/$(params.application)/kustomization.yaml"
mkdir -p "$(dirname "$file")"
printf 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n- name: %s\n  digest: %s\n' "$(params.image)" "$(params.digest)" > "$file"`, 1),
	"# Argo CD", "# Flux", 1)
