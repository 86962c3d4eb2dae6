package render

import (
	"math"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/pipec/pipec/targets"
)

// sigsDocument is Document as pipec rendered YAML before, with
// sigs.k8s.io/yaml (JSON, parsed back as YAML, emitted). Integers are
// int64, not float64 as before: large ones used to lose digits.
func sigsDocument(t testing.TB, o targets.Object) string {
	t.Helper()
	m, err := decode(o.Value, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sigsyaml.Marshal(m)
	if err != nil {
		// The round trip refuses some strings the emitter writes, such as
		// "\x7f": there is nothing to compare with.
		t.Skipf("sigs.k8s.io/yaml: %v", err)
	}
	return header(o) + string(b)
}

func assertSameYAML(t testing.TB, o targets.Object) {
	t.Helper()
	got, err := Document(o, YAML)
	if err != nil {
		t.Fatal(err)
	}
	if want := sigsDocument(t, o); string(got) != want {
		t.Errorf("Document differs from sigs.k8s.io/yaml\n--- got\n%s\n--- want\n%s", got, want)
	}
}

// TestYAMLMatchesSigsYAML: rendering without the JSON-to-YAML round trip
// gives the same bytes as sigs.k8s.io/yaml, on the values that differ
// between the two number models and the strings YAML must quote.
// (The compiler's goldens hold it on every example too.)
func TestYAMLMatchesSigsYAML(t *testing.T) {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a10": "1", "a9": "true", "A": "yes", "b": "0x1F", "c": "1:20", "d": "", "e": "~"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:    "c",
				Command: []string{"sh", "-c", "echo hello: world # not a comment\nexit 0\n", "  leading", "trailing  ", "- dash", "null", "1e3", "12345678901234567890"},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("1Gi"),
				}},
				Ports:         []corev1.ContainerPort{{ContainerPort: 8080}},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}},
			}},
			ActiveDeadlineSeconds: ptr(int64(1) << 62),
		},
	}
	values := map[string]any{
		"pod": pod,
		"numbers": map[string]any{
			"int": 3, "negative": -7, "big": int64(math.MaxInt64), "float": 1.5, "integral float": 3.0, "large float": 1e21, "small": 1e-7, "million": 1e6,
		},
		"strings": map[string]any{
			"empty": "", "unicode": "héllo wörld", "tab": "a\tb", "crlf": "a\r\nb", "trailing newlines": "a\n\n", "leading space block": "  a\nb",
			"long": strings.Repeat("word ", 40), "long no spaces": strings.Repeat("x", 200), "quote": `say "hi"`, "colon": "a: b", "hash": "#x",
			"bools": []any{"on", "off", "y", "n", "True", "FALSE"}, "control": "\x01", "nested": []any{[]any{"a", []any{}}, map[string]any{}, nil},
		},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			assertSameYAML(t, targets.Object{Kind: "Test", Name: name, Source: "x", Value: v})
		})
	}
}

// FuzzYAMLMatchesSigsYAML: for any string, as a key, a value and a list
// item, rendering matches sigs.k8s.io/yaml.
func FuzzYAMLMatchesSigsYAML(f *testing.F) {
	for _, s := range []string{"", "a", "1", "1.0", "true", "a: b", " a", "a\nb", "- a", "#", "'", `"`, "\t", "~", "0o17", "+1", ".inf", "<<", strings.Repeat("ab ", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := map[string]any{s: s, "list": []any{s, map[string]any{"k": s}}}
		assertSameYAML(t, targets.Object{Kind: "Test", Name: "fuzz", Source: "x", Value: v})
	})
}

func ptr[T any](v T) *T { return &v }

// TestDocumentsInOrder: rendering on all CPUs gives each object's own
// document, in the objects' order, and fails if any object fails.
func TestDocumentsInOrder(t *testing.T) {
	var objs []targets.Object
	for i := range 200 {
		objs = append(objs, obj("Task", strings.Repeat("t", i%7+1)+string(rune('a'+i%26))))
	}
	docs, err := Documents(objs, YAML)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		want, err := Document(o, YAML)
		if err != nil {
			t.Fatal(err)
		}
		if string(docs[i]) != string(want) {
			t.Fatalf("document %d is not object %d's:\n%s\nwant\n%s", i, i, docs[i], want)
		}
	}
	objs[137].Value = map[string]any{"bad": make(chan int)}
	if _, err := Documents(objs, YAML); err == nil || !strings.Contains(err.Error(), objs[137].Name) {
		t.Fatalf("a failing object: err = %v, want one naming %q", err, objs[137].Name)
	}
}
