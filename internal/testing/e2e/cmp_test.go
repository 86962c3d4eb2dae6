package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/argoproj/argo-cd/v3/cmpserver/apiclient"
	"github.com/argoproj/argo-cd/v3/cmpserver/plugin"
	"github.com/argoproj/argo-cd/v3/util/cmp"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/kubetest"
	"github.com/pipec/pipec/render"
	"github.com/pipec/pipec/targets"
)

// pipeStream carries an Argo CD repo stream from the repo-server side
// (cmp.SendRepoStream) to the plugin side (the CMP server's Service), the
// way the gRPC connection between them does.
type pipeStream[Resp any] struct {
	grpc.ServerStream
	ctx  context.Context
	reqs chan *apiclient.AppStreamRequest
	resp *Resp
}

func (p *pipeStream[Resp]) Context() context.Context { return p.ctx }
func (p *pipeStream[Resp]) Send(r *apiclient.AppStreamRequest) error {
	// Serialise it as gRPC does: the sender reuses its chunk buffer.
	data, err := r.Marshal()
	if err != nil {
		return err
	}
	var c apiclient.AppStreamRequest
	if err := c.Unmarshal(data); err != nil {
		return err
	}
	p.reqs <- &c
	return nil
}

func (p *pipeStream[Resp]) Recv() (*apiclient.AppStreamRequest, error) {
	r, ok := <-p.reqs
	if !ok {
		return nil, io.EOF
	}
	return r, nil
}
func (p *pipeStream[Resp]) SendAndClose(r *Resp) error { p.resp = r; return nil }

// stream sends repoDir/appPath to the plugin like the repo-server does.
func stream[Resp any](t *testing.T, ctx context.Context, repoDir, appPath string) *pipeStream[Resp] {
	p := &pipeStream[Resp]{ctx: ctx, reqs: make(chan *apiclient.AppStreamRequest, 1024)}
	go func() {
		defer close(p.reqs)
		if err := cmp.SendRepoStream(ctx, filepath.Join(repoDir, appPath), repoDir, p, []string{"ARGOCD_APP_NAME=shop"}, nil); err != nil {
			t.Errorf("SendRepoStream: %v", err)
		}
	}()
	return p
}

// TestArgoCDPlugin runs deploy/argocd/plugin.yaml through Argo CD's own CMP
// server code: it reads and validates the plugin file, matches a
// repository by its discovery rule, and generates the manifests by running
// the pipec binary, as the repo-server sidecar does.
func TestArgoCDPlugin(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "pipec"), "github.com/pipec/pipec/cmd/pipec")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("ARGOCD_CMP_WORKDIR", t.TempDir())

	cfg, err := plugin.ReadPluginConfig("../../../deploy/argocd")
	if err != nil {
		t.Fatalf("Argo CD refuses the plugin file: %v", err)
	}
	svc := plugin.NewService(plugin.CMPServerInitConstants{PluginConfig: *cfg})
	ctx := context.Background()
	// A repository like a user's: the examples, and a chart that is not
	// pipec configuration.
	repo := t.TempDir()
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"examples/go-service", "examples/shop", "charts/pipec"} {
		if err := os.CopyFS(filepath.Join(repo, d), os.DirFS(filepath.Join(root, d))); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("discovery", func(t *testing.T) {
		for app, want := range map[string]bool{"examples/shop": false, "examples/go-service": true, "charts/pipec": false} {
			s := stream[apiclient.RepositoryResponse](t, ctx, repo, app)
			if err := svc.MatchRepository(s); err != nil {
				t.Fatalf("%s: %v", app, err)
			}
			if s.resp.IsSupported != want || !s.resp.IsDiscoveryEnabled {
				t.Errorf("%s: supported %v, want %v", app, s.resp.IsSupported, want)
			}
		}
	})
	t.Run("generate", func(t *testing.T) {
		for _, app := range []string{"examples/go-service", "examples/shop"} {
			s := stream[apiclient.ManifestResponse](t, ctx, repo, app)
			if err := svc.GenerateManifest(s); err != nil {
				t.Fatalf("%s: %v", app, err)
			}
			res, err := compiler.Build(ctx, compiler.Options{Dir: filepath.Join(repo, app), Policies: true})
			if err != nil {
				t.Fatal(err)
			}
			streamed := targets.Streamed(res.Objects)
			if len(s.resp.Manifests) != len(streamed) {
				t.Fatalf("%s: Argo CD got %d manifests, pipec build makes %d", app, len(s.resp.Manifests), len(streamed))
			}
			for i, m := range s.resp.Manifests {
				want, err := render.Document(streamed[i], render.JSON)
				if err != nil {
					t.Fatal(err)
				}
				if !jsonEqual(t, []byte(m), want) {
					t.Errorf("%s: manifest %d differs from pipec build's", app, i)
				}
			}
			// They equal pipec build's output, which TestExamplesAcceptedByAPIServer
			// creates on the API server.
		}
	})
	t.Run("findings fail the sync with their positions", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "app"), 0o755)
		os.WriteFile(filepath.Join(dir, "app", "pipec.cue"), []byte("package ci\n\npipelines: app: tasks: a: steps: [{name: \"s\", image: \"busybox:latest\", script: \"true\"}]\n"), 0o644)
		s := stream[apiclient.ManifestResponse](t, ctx, dir, "app")
		err := svc.GenerateManifest(s)
		if err == nil || !strings.Contains(err.Error(), `pipec.cue:3:54: pipelines.app.tasks.a.steps[0].image: deny pipec/config/image: image "busybox:latest" uses the mutable tag "latest"`) {
			t.Fatalf("err = %v", err)
		}
	})
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if err := yaml.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := yaml.Marshal(x)
	ya, _ := yaml.Marshal(y)
	return bytes.Equal(xa, ya)
}

// TestArgoCDSidecarValues checks the sidecar in argo-cd-values.yaml: a
// valid container that meets Pod Security "restricted" and mounts what the
// CMP server needs.
func TestArgoCDSidecarValues(t *testing.T) {
	data, err := os.ReadFile("../../../deploy/argocd/argo-cd-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		RepoServer struct {
			ExtraContainers []corev1.Container `json:"extraContainers"`
			Volumes         []corev1.Volume    `json:"volumes"`
		} `json:"repoServer"`
	}
	if err := yaml.UnmarshalStrict(data, &values); err != nil {
		t.Fatal(err)
	}
	if len(values.RepoServer.ExtraContainers) != 1 {
		t.Fatalf("want one sidecar, got %d", len(values.RepoServer.ExtraContainers))
	}
	c := values.RepoServer.ExtraContainers[0]
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	for name, path := range map[string]string{"var-files": "/var/run/argocd", "plugins": "/home/argocd/cmp-server/plugins"} {
		if mounts[name] != path {
			t.Errorf("the sidecar must mount %s at %s", name, path)
		}
	}
	if len(c.Command) != 1 || c.Command[0] != "/var/run/argocd/argocd-cmp-server" {
		t.Errorf("command = %v, want the CMP server", c.Command)
	}
	// A pod with the sidecar must pass Pod Security "restricted".
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{c}, Volumes: append(values.RepoServer.Volumes,
		corev1.Volume{Name: "var-files", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "plugins", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})}}
	pod.APIVersion, pod.Kind, pod.Name, pod.Namespace = "v1", "Pod", "repo-server", "argocd-cmp"
	pod.Spec.Containers[0].Image = "ghcr.io/pipec/pipec:0.1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ctx := context.Background()
	if err := server.CreateNamespace(ctx, "argocd-cmp", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}); err != nil {
		t.Fatal(err)
	}
	// The test API server runs no controllers to create it.
	if err := server.ApplyYAML(ctx, []byte("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: argocd-cmp}\n"), false); err != nil {
		t.Fatal(err)
	}
	podYAML, err := yaml.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.ApplyYAML(ctx, podYAML, true); err != nil {
		t.Errorf("the sidecar does not meet Pod Security restricted: %v", err)
	}
}
