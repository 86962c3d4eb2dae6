package tekton

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// The gate steps' images, pinned by digest (the tags are for people).
// Trivy's image is Alpine-based: its shell runs the scan and SBOM scripts.
// Grype's and cosign's images have no shell: their steps run the program
// with arguments.
const (
	TrivyImage  = "docker.io/aquasec/trivy:0.58.1@sha256:ab70a02200597efa04748f210f793936eb647cbcdb0ea69cc30b226d6f5a22c7"
	GrypeImage  = "docker.io/anchore/grype:v0.119.0@sha256:8c2c9234a345577a6d321a4753aa3ee1276d8975c8452d2344a56b57733ecad3"
	CosignImage = "gcr.io/projectsigstore/cosign:v2.4.1@sha256:b03690aa52bfe94054187142fba24dc54137650682810633901767d8a3e15b31"
)

// Chains' configuration, which the sign gates' keys are merged into.
const (
	ChainsNamespace = "tekton-chains"
	ChainsConfigMap = "chains-config"
)

// trivyScanScript scans the image and fails when a vulnerability at or
// above the threshold is left after the ignore file. It writes the counts
// per severity to the result vulnerabilities. Values come in through the
// environment, never spliced into the script.
const trivyScanScript = `#!/bin/sh
set -eu
set -- --quiet --scanners vuln --cache-dir /tmp/trivy-cache
if [ -n "$IGNORE_FILE" ]; then
  if [ ! -f "$IGNORE_FILE" ]; then
    echo "the ignore file $IGNORE_FILE is not in the repository" >&2
    exit 1
  fi
  set -- "$@" --ignorefile "$IGNORE_FILE"
fi
trivy image "$@" --format template --output /tmp/severities \
  --template '{{ range . }}{{ range .Vulnerabilities }}{{ .Severity }}{{ "\n" }}{{ end }}{{ end }}' "$IMAGE"
count() { grep -cx "$1" /tmp/severities || true; }
summary="critical=` + "`count CRITICAL`" + ` high=` + "`count HIGH`" + ` medium=` + "`count MEDIUM`" + ` low=` + "`count LOW`" + `"
printf '%s' "$summary" > "$(results.vulnerabilities.path)"
echo "$IMAGE: $summary"
failing=0
for s in $FAIL_ON; do
  n=` + "`count $s`" + `
  failing=$((failing + n))
done
if [ "$failing" -gt 0 ]; then
  trivy image "$@" --skip-db-update --severity "` + "`echo $FAIL_ON | tr ' ' ,`" + `" --format table "$IMAGE" >&2
  echo "$IMAGE has $failing vulnerabilities of severity $THRESHOLD or above: fix them, or ignore them in the ignore file with a reason" >&2
  exit 1
fi
`

// trivySBOMScript writes the image's SBOM for the attest step and its
// digest to the result sbom-digest.
const trivySBOMScript = `#!/bin/sh
set -eu
trivy image --quiet --cache-dir /tmp/trivy-cache --format "$FORMAT" --output /sbom/sbom.json "$IMAGE"
printf 'sha256:%s' "` + "`sha256sum /sbom/sbom.json | cut -d ' ' -f 1`" + `" > "$(results.sbom-digest.path)"
echo "SBOM of $IMAGE: ` + "`wc -c < /sbom/sbom.json`" + ` bytes"
`

// GateTasks returns the tasks a pipeline's gates add after its build
// task (named build): the scan, then the SBOM and the signature, each
// reading the image by the digest the build task reports. The SBOM and
// sign tasks run only when the pipeline's model.TriggerParam is one of
// model.SigningRuns. The compiler's
// normalize step adds them to the pipeline, so they are checked and
// generated as the pipeline's own tasks.
func GateTasks(plan *model.Plan, p *model.Pipeline, build string) []*model.PipelineTask {
	g := p.Gates
	digest := "$(tasks." + build + ".results.IMAGE_DIGEST)"
	// The repository is a parameter too: pipelines whose gates are set
	// up alike share their gate tasks' specs, which Tekton's validation
	// then reads once (see validateAll).
	ref := "$(params.image)@$(params.digest)"
	var out []*model.PipelineTask
	after := []string{build}
	if g.Scan != nil {
		out = append(out, scanTask(plan, g, digest, ref, after))
		after = []string{model.GateScanTask}
	}
	// The SBOM attestation and the signature are what the admission
	// policies and their readers trust: only runs of reviewed code (push,
	// tag, manual) make them; a pull request's run skips them.
	if g.SBOM != nil {
		t := sbomTask(plan, g, digest, ref, after)
		t.When = []*model.When{model.SigningRunsOnly(g.SBOM.Path)}
		out = append(out, t)
	}
	if g.Sign != nil {
		t := signTask(plan, g, digest, ref, after)
		t.When = []*model.When{model.SigningRunsOnly(g.Sign.Path)}
		out = append(out, t)
	}
	return out
}

// LabelGate marks the tasks the gates add, on their TaskRuns and pods:
// its value is the gate (scan, sbom, sign). pipec diff tells a reviewer
// when one goes away.
const LabelGate = "pipec.dev/gate"

// gateTask is a generated inline task taking the image's repository and
// digest.
func gateTask(name, description string, g *model.Gates, digest string, after []string, path model.Path) *model.PipelineTask {
	return &model.PipelineTask{
		Name:        name,
		Description: description,
		Params: []*model.Arg{
			{Name: "digest", Value: model.Value{Type: model.TypeString, String: digest}, Path: path},
			{Name: "image", Value: model.Value{Type: model.TypeString, String: g.Image}, Path: path},
		},
		After: after,
		Path:  path,
		Inline: &model.TaskDef{
			Name:   name,
			Labels: map[string]string{LabelGate: strings.TrimSuffix(name, "-image")},
			Params: []*model.Param{
				{Name: "digest", Type: model.TypeString, Description: "The digest of the image the build task built.", Path: path},
				{Name: "image", Type: model.TypeString, Description: "The image's repository (gates.image).", Path: path},
			},
			Path: path,
		},
	}
}

// gateStep is a step with the plan's step defaults, a read-only root
// filesystem and a writable /tmp (its HOME, the scanners' caches) and,
// when the gates name them, the registry credentials.
func gateStep(plan *model.Plan, g *model.Gates, name, image string, path model.Path) *model.Step {
	sc := plan.StepDefaults.SecurityContext
	readOnly := true
	sc.ReadOnlyRootFilesystem = &readOnly
	s := &model.Step{
		Name: name, Image: image,
		Env:             []*model.EnvVar{{Name: "HOME", Value: "/tmp", Path: path}},
		VolumeMounts:    []*model.VolumeMount{{Name: "tmp", MountPath: "/tmp", Path: path}},
		Resources:       plan.StepDefaults.Resources,
		SecurityContext: sc,
		Path:            path,
	}
	if g.RegistryCredentials != "" {
		s.Env = append(s.Env, &model.EnvVar{Name: "DOCKER_CONFIG", Value: "/registry-credentials", Path: path})
		s.VolumeMounts = append(s.VolumeMounts, &model.VolumeMount{Name: "registry-credentials", MountPath: "/registry-credentials", ReadOnly: true, Path: path})
	}
	return s
}

// gateVolumes are the volumes of a gate task: /tmp, the registry
// credentials (the .dockerconfigjson key as config.json), and more.
func gateVolumes(g *model.Gates, path model.Path, more ...*model.Volume) []*model.Volume {
	out := []*model.Volume{{Name: "tmp", Path: path, Source: map[string]any{"emptyDir": map[string]any{}}}}
	if g.RegistryCredentials != "" {
		out = append(out, &model.Volume{Name: "registry-credentials", Path: path, Source: map[string]any{"secret": map[string]any{
			"secretName": g.RegistryCredentials,
			"items":      []any{map[string]any{"key": corev1.DockerConfigJsonKey, "path": "config.json"}},
		}}})
	}
	return append(out, more...)
}

// scanMemory is the memory limit of a scan step: the vulnerability
// databases do not fit pipec's default step limit.
const scanMemory = "2Gi"

func scanTask(plan *model.Plan, g *model.Gates, digest, ref string, after []string) *model.PipelineTask {
	s := g.Scan
	t := gateTask(model.GateScanTask, "Scan "+g.Image+" for vulnerabilities; fail at "+s.FailOn+" or above (generated by pipec from gates.scan).", g, digest, after, s.Path)
	t.OnError = s.OnError
	def := t.Inline
	def.Volumes = gateVolumes(g, s.Path)
	ignore := ""
	if s.IgnoreFile != "" && s.Workspace != "" {
		def.Workspaces = []*model.Workspace{{Name: "source", ReadOnly: true, Description: "The repository, with the ignore file.", Path: s.Path}}
		t.Workspaces = []*model.WorkspaceBinding{{Name: "source", From: s.Workspace, Path: s.Path.Field("workspace")}}
		ignore = "$(workspaces.source.path)/" + strings.TrimPrefix(s.IgnoreFile, "./")
	}
	var st *model.Step
	switch s.Tool {
	case "grype":
		st = gateStep(plan, g, "grype", s.Image, s.Path)
		if st.Image == "" {
			st.Image = GrypeImage
		}
		st.Command = []string{"/grype"}
		st.Args = []string{"registry:" + ref, "--fail-on", s.FailOn, "--output", "table"}
		if ignore != "" {
			st.Args = append(st.Args, "--config", ignore)
		}
		st.Env = append(st.Env,
			&model.EnvVar{Name: "GRYPE_DB_CACHE_DIR", Value: "/tmp/grype-db", Path: s.Path},
			&model.EnvVar{Name: "GRYPE_CHECK_FOR_APP_UPDATE", Value: "false", Path: s.Path})
		if db := s.Database; db != nil && db.UpdateURL != "" {
			st.Env = append(st.Env, &model.EnvVar{Name: "GRYPE_DB_UPDATE_URL", Value: db.UpdateURL, Path: db.Path.Field("updateURL")})
		}
	default:
		st = gateStep(plan, g, "trivy", s.Image, s.Path)
		if st.Image == "" {
			st.Image = TrivyImage
		}
		st.Script = trivyScanScript
		if db := s.Database; db != nil {
			st.Env = append(st.Env, dbEnv(db)...)
		}
		var failOn []string
		for _, x := range model.SeveritiesFrom(s.FailOn) {
			failOn = append(failOn, strings.ToUpper(x))
		}
		st.Env = append(st.Env,
			&model.EnvVar{Name: "IMAGE", Value: ref, Path: s.Path},
			&model.EnvVar{Name: "FAIL_ON", Value: strings.Join(failOn, " "), Path: s.Path.Field("failOn")},
			&model.EnvVar{Name: "THRESHOLD", Value: s.FailOn, Path: s.Path.Field("failOn")},
			&model.EnvVar{Name: "IGNORE_FILE", Value: ignore, Path: s.Path.Field("ignoreFile")})
		def.Results = []*model.Result{{Name: "vulnerabilities", Type: model.TypeString, Description: "The vulnerabilities left after the ignore file, per severity: critical=N high=N medium=N low=N.", Path: s.Path}}
	}
	st.Resources = withMemoryLimit(st.Resources, scanMemory)
	def.Steps = []*model.Step{st}
	return t
}

// dbEnv is the environment that points Trivy at the database locations
// db names: TRIVY_DB_REPOSITORY and TRIVY_JAVA_DB_REPOSITORY, the
// environment form of --db-repository and --java-db-repository.
func dbEnv(db *model.ScanDatabase) []*model.EnvVar {
	var out []*model.EnvVar
	if db.Repository != "" {
		out = append(out, &model.EnvVar{Name: "TRIVY_DB_REPOSITORY", Value: db.Repository, Path: db.Path.Field("repository")})
	}
	if db.JavaRepository != "" {
		out = append(out, &model.EnvVar{Name: "TRIVY_JAVA_DB_REPOSITORY", Value: db.JavaRepository, Path: db.Path.Field("javaRepository")})
	}
	return out
}

// withMemoryLimit returns r with a memory limit of at least m.
func withMemoryLimit(r model.Resources, m string) model.Resources {
	out := model.Resources{Requests: r.Requests, Limits: map[string]string{}}
	for k, v := range r.Limits {
		out.Limits[k] = v
	}
	out.Limits["memory"] = m
	return out
}

// cosignKey returns the --key argument and the step's environment and
// mounts for the sign gate's key.
func cosignKey(st *model.Step, k *model.SigningKey) string {
	if k.URI != "" {
		return k.URI // a KMS key: the pod's cloud identity signs
	}
	st.Env = append(st.Env, &model.EnvVar{Name: "COSIGN_PASSWORD", SecretRef: &model.KeyRef{Name: k.Secret, Key: k.Password}, Path: k.Path})
	st.VolumeMounts = append(st.VolumeMounts, &model.VolumeMount{Name: "signing-key", MountPath: "/signing-key", ReadOnly: true, Path: k.Path})
	return "/signing-key/cosign.key"
}

// keyVolume is the Secret holding the signing key, when it is one.
func keyVolume(k *model.SigningKey) []*model.Volume {
	if k.URI != "" {
		return nil
	}
	return []*model.Volume{{Name: "signing-key", Path: k.Path, Source: map[string]any{"secret": map[string]any{
		"secretName": k.Secret,
		"items":      []any{map[string]any{"key": k.Key, "path": "cosign.key"}},
	}}}}
}

// tlogArgs are cosign's transparency log arguments.
func tlogArgs(s *model.Sign) []string {
	if s.Rekor == "" {
		return []string{"--tlog-upload=false"}
	}
	return []string{"--tlog-upload=true", "--rekor-url", s.Rekor}
}

func sbomTask(plan *model.Plan, g *model.Gates, digest, ref string, after []string) *model.PipelineTask {
	s := g.SBOM
	t := gateTask(model.GateSBOMTask, "Generate the "+s.Format+" SBOM of "+g.Image+" and attach it as a signed attestation (generated by pipec from gates.sbom).", g, digest, after, s.Path)
	def := t.Inline
	sbomMount := &model.VolumeMount{Name: "sbom", MountPath: "/sbom", Path: s.Path}
	gen := gateStep(plan, g, "generate", s.Image, s.Path)
	if gen.Image == "" {
		gen.Image = TrivyImage
	}
	format, predicate := "spdx-json", "spdxjson"
	if s.Format == "cyclonedx-json" {
		format, predicate = "cyclonedx", "cyclonedx"
	}
	gen.Script = trivySBOMScript
	if sc := g.Scan; sc != nil && sc.Database != nil && sc.Database.JavaRepository != "" {
		// Trivy identifies Java archives with its Java database.
		db := &model.ScanDatabase{JavaRepository: sc.Database.JavaRepository, Path: sc.Database.Path}
		gen.Env = append(gen.Env, dbEnv(db)...)
	}
	gen.Env = append(gen.Env,
		&model.EnvVar{Name: "IMAGE", Value: ref, Path: s.Path},
		&model.EnvVar{Name: "FORMAT", Value: format, Path: s.Path.Field("format")})
	gen.VolumeMounts = append(gen.VolumeMounts, sbomMount)
	gen.Resources = withMemoryLimit(gen.Resources, scanMemory)
	def.Steps = []*model.Step{gen}
	def.Results = []*model.Result{{Name: "sbom-digest", Type: model.TypeString, Description: "The sha256 digest of the SBOM attested.", Path: s.Path}}
	volumes := []*model.Volume{{Name: "sbom", Path: s.Path, Source: map[string]any{"emptyDir": map[string]any{}}}}
	if sign := g.Sign; sign != nil && sign.Key != nil {
		attest := gateStep(plan, g, "attest", CosignImage, s.Path)
		attest.Command = []string{"/ko-app/cosign"}
		key := cosignKey(attest, sign.Key)
		attest.Args = append([]string{"attest", "--yes", "--key", key, "--type", predicate, "--predicate", "/sbom/sbom.json"}, append(tlogArgs(sign), ref)...)
		attest.VolumeMounts = append(attest.VolumeMounts, &model.VolumeMount{Name: "sbom", MountPath: "/sbom", ReadOnly: true, Path: s.Path})
		def.Steps = append(def.Steps, attest)
		volumes = append(volumes, keyVolume(sign.Key)...)
	}
	def.Volumes = gateVolumes(g, s.Path, volumes...)
	return t
}

func signTask(plan *model.Plan, g *model.Gates, digest, ref string, after []string) *model.PipelineTask {
	s := g.Sign
	t := gateTask(model.GateSignTask, "Sign "+g.Image+" with cosign (generated by pipec from gates.sign).", g, digest, after, s.Path)
	def := t.Inline
	st := gateStep(plan, g, "sign", CosignImage, s.Path)
	st.Command = []string{"/ko-app/cosign"}
	def.Steps = []*model.Step{st}
	def.Results = []*model.Result{{Name: "signature", Type: model.TypeString, Description: "The image's signature, base64.", Path: s.Path}}
	if k := s.Keyless; k != nil {
		// Keyless: Fulcio certifies the pipeline's ServiceAccount, whose
		// token (audience sigstore) is projected into the step; the
		// admission policies accept that identity only.
		st.VolumeMounts = append(st.VolumeMounts, &model.VolumeMount{Name: "sigstore-token", MountPath: keylessTokenDir, ReadOnly: true, Path: k.Path})
		st.Args = append([]string{"sign", "--yes", "--identity-token", keylessTokenDir + "/token", "--fulcio-url", k.Fulcio, "--oidc-issuer", k.Issuer, "--output-signature", "$(results.signature.path)"}, append(tlogArgs(s), ref)...)
		def.Volumes = gateVolumes(g, s.Path, &model.Volume{Name: "sigstore-token", Path: k.Path, Source: map[string]any{"projected": map[string]any{
			"sources": []any{map[string]any{"serviceAccountToken": map[string]any{
				"audience": model.KeylessAudience, "expirationSeconds": int64(600), "path": "token",
			}}},
		}}})
		return t
	}
	key := cosignKey(st, s.Key)
	st.Args = append([]string{"sign", "--yes", "--key", key, "--output-signature", "$(results.signature.path)"}, append(tlogArgs(s), ref)...)
	def.Volumes = gateVolumes(g, s.Path, keyVolume(s.Key)...)
	return t
}

// keylessTokenDir is where the keyless sign step reads its ServiceAccount
// token.
const keylessTokenDir = "/var/run/sigstore/pipec"

// chainsConfig is the ConfigMap patch of Tekton Chains' configuration:
// the keys the sign gates need, to merge into chains-config in
// tekton-chains (`kubectl apply --server-side` keeps Chains' other keys).
// Nil when no pipeline signs. Conflicting values are reported by the
// checks; the first wins here.
func chainsConfig(plan *model.Plan) *targets.Object {
	settings := plan.ChainsConfig()
	if len(settings) == 0 {
		return nil
	}
	data := map[string]string{}
	var pipelines []string
	seen := map[string]bool{}
	for _, s := range settings {
		if _, ok := data[s.Key]; !ok {
			data[s.Key] = s.Value
		}
		if !seen[s.Pipeline] {
			seen[s.Pipeline] = true
			pipelines = append(pipelines, s.Pipeline)
		}
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: ChainsConfigMap, Namespace: ChainsNamespace,
			Labels: targets.Labels(nil),
			Annotations: map[string]string{
				AnnotationGeneratedFor: "the sign gates of pipelines " + strings.Join(pipelines, ", "),
				"pipec.dev/merge":      "keys to merge into Tekton Chains' configuration: kubectl apply --server-side --field-manager=pipec keeps its other keys",
				// The ConfigMap is Chains' own: when the gates go, a
				// GitOps engine syncing ci/ must not delete it.
				"kustomize.toolkit.fluxcd.io/prune": "disabled",
				"argocd.argoproj.io/sync-options":   "Prune=false",
			},
		},
		Data: data,
	}
	o := targets.New(Name, cm, settings[0].Path, targets.CIDir)
	return &o
}
