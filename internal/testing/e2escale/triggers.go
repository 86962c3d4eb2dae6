package e2escale

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/pipec/pipec/internal/testing/kubetest"
)

var clusterInterceptors = schema.GroupVersionResource{Group: "triggers.tekton.dev", Version: "v1alpha1", Resource: "clusterinterceptors"}

const interceptorsSecret = "tekton-triggers-core-interceptors-certs"

// The core interceptors' Kubernetes client rate, requests a second, and
// burst (see startInterceptors).
const (
	interceptorsQPS   = 50
	interceptorsBurst = 100
)

// startInterceptors runs Triggers' core interceptors (github, gitlab,
// bitbucket, cel, slack) out of cluster. Their ClusterInterceptors point
// at https://localhost:8443 (the port is fixed in cmd/interceptors), and
// their certificate secret is filled in beforehand with a certificate for
// localhost; the interceptors server publishes its CA into the
// ClusterInterceptors, where the EventListener sink reads it.
//
// Their Kubernetes client runs at interceptorsQPS and interceptorsBurst,
// not client-go's default 5 a second (burst 10): the GitHub interceptor
// reads the webhook secret from the API server for every delivery its
// 5-second cache does not hold, with a 3-second deadline, and drops the
// delivery (after the sink has answered 202) when the client's rate
// limiter would make it wait longer (tektoncd/triggers#1737).
// TestInterceptorsClientRate measures both rates; a cluster taking bursts
// of webhooks needs the same on the tekton-triggers-core-interceptors
// Deployment (the KUBE_API_QPS and KUBE_API_BURST environment variables).
func (c *Cluster) startInterceptors(ctx context.Context) error {
	if l, err := net.Listen("tcp", ":"+strconv.Itoa(interceptorsPort)); err != nil {
		return fmt.Errorf("Triggers' interceptors need port %d, which is taken: %w", interceptorsPort, err)
	} else {
		l.Close()
	}
	caPEM, certPEM, keyPEM, err := servingCerts("localhost")
	if err != nil {
		return err
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: interceptorsSecret, Namespace: SystemNamespace},
		Data:       map[string][]byte{"server-key.pem": keyPEM, "server-cert.pem": certPEM, "ca-cert.pem": caPEM},
	}
	if _, err := c.Kube.CoreV1().Secrets(SystemNamespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return err
	}
	names := []string{"bitbucket", "cel", "github", "gitlab", "slack"}
	for _, n := range names {
		ci := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "triggers.tekton.dev/v1alpha1", "kind": "ClusterInterceptor",
			"metadata": map[string]any{"name": n, "labels": map[string]any{"server/type": "https"}},
			"spec":     map[string]any{"clientConfig": map[string]any{"url": fmt.Sprintf("https://localhost:%d/%s", interceptorsPort, n)}},
		}}
		if err := c.Create(ctx, ci, false); err != nil {
			return err
		}
	}
	if err := c.StartProcess(c.log, "triggers-interceptors", c.program("triggers-interceptors"), []string{
		"SYSTEM_NAMESPACE=" + SystemNamespace, "CONFIG_LOGGING_NAME=config-logging-triggers",
		"CONFIG_OBSERVABILITY_NAME=config-observability-triggers", "METRICS_DOMAIN=tekton.dev/triggers",
		"INTERCEPTOR_TLS_SVC_NAME=tekton-triggers-core-interceptors", "INTERCEPTOR_TLS_SECRET_NAME=" + interceptorsSecret,
		"KUBERNETES_MIN_VERSION=v1.28.0", "KUBE_API_QPS=" + strconv.Itoa(interceptorsQPS), "KUBE_API_BURST=" + strconv.Itoa(interceptorsBurst),
	}, "-kubeconfig="+c.kubeconfig); err != nil {
		return err
	}
	return kubetest.Poll(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			o, err := c.Dynamic().Resource(clusterInterceptors).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			if ca, _, _ := unstructured.NestedString(o.Object, "spec", "clientConfig", "caBundle"); ca == "" {
				return false, nil
			}
		}
		return true, nil
	})
}

// StartEventListener runs Triggers' EventListener sink for the
// EventListener ns/name out of cluster, as the controller would run it in
// its Deployment: with the listener's service account's credentials (so
// the RBAC pipec generates is what it runs with). It returns the URL that
// takes webhook deliveries. It logs at debug level: the sink says why it
// started nothing for an event it accepted (an interceptor that stopped
// it) only there. With no zap configuration of its own, knative's default
// writes the JSON lines (severity, message) that dropped reads.
func (c *Cluster) StartEventListener(ctx context.Context, ns, name, serviceAccount string) (string, error) {
	tok, err := c.Kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, serviceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(24 * 3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %s/%s: %w", ns, serviceAccount, err)
	}
	kc := filepath.Join(c.Dir, "kubeconfig-"+serviceAccount)
	if err := os.WriteFile(kc, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters: [{name: sim, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: sa, user: {token: %q}}]
contexts: [{name: sim, context: {cluster: sim, user: sa}}]
current-context: sim
`, c.Config.Host, tok.Status.Token), 0o600); err != nil {
		return "", err
	}
	p, err := kubetest.FreePorts(2)
	if err != nil {
		return "", err
	}
	if err := c.StartProcess(c.log, "eventlistener-"+name, c.program("triggers-sink"), []string{
		"SYSTEM_NAMESPACE=" + ns, "NAMESPACE=" + ns, "NAME=" + name, "EL_EVENT=disable", "K_SINK_TIMEOUT=5",
		"METRICS_PROMETHEUS_PORT=" + strconv.Itoa(p[1]), "KUBERNETES_MIN_VERSION=v1.28.0",
		`K_LOGGING_CONFIG={"loglevel.eventlistener":"debug"}`,
	}, "-kubeconfig="+kc, "--el-name="+name, "--el-namespace="+ns, "--port="+strconv.Itoa(p[0]),
		"--readtimeout=5", "--writetimeout=40", "--idletimeout=30", "--timeouthandler=5",
		"--is-multi-ns=false", "--payload-validation=true"); err != nil {
		return "", err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", p[0])
	err = kubetest.Poll(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p[0]), time.Second)
		if err != nil {
			return false, nil
		}
		conn.Close()
		return true, nil
	})
	if err != nil {
		return "", fmt.Errorf("the EventListener sink did not listen: %w (log: %s)", err, filepath.Join(c.Dir, "eventlistener-"+name+".log"))
	}
	return url, nil
}

func ptr[T any](v T) *T { return &v }

// servingCerts makes a CA and a serving certificate for host and
// 127.0.0.1, PEM-encoded.
func servingCerts(host string) (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pipec e2e CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}
