package policies

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// BenchmarkNewInput flattens plans of 500 and 4,000 pipelines, each with
// its ServiceAccount, half with permissions: the time per pipeline must
// not grow with their number (it did: each ServiceAccount was looked for
// among all the pipelines, 2.2 s of a 5,000-service build).
func BenchmarkNewInput(b *testing.B) {
	for _, n := range []int{500, 4000} {
		plan := &model.Plan{Namespace: "ci"}
		var objs []targets.Object
		for i := range n {
			p := &model.Pipeline{Name: fmt.Sprintf("p%05d", i), Path: model.Path("pipelines").Field(fmt.Sprintf("p%05d", i))}
			if i%2 == 0 {
				p.Permissions = []*model.Permission{{Environment: "dev", Verbs: []string{"get"}, Resources: []string{"pods"}, Path: p.Path.Field("permissions").Index(0)}}
			}
			plan.Pipelines = append(plan.Pipelines, p)
			sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: metav1.ObjectMeta{Name: p.ServiceAccount(), Namespace: "ci"}}
			objs = append(objs, targets.Object{APIVersion: "v1", Kind: "ServiceAccount", Name: sa.Name, Namespace: "ci", Value: sa, Source: p.Path, Dir: targets.CIDir})
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				in, err := NewInput(plan, objs, nil, Settings{})
				if err != nil {
					b.Fatal(err)
				}
				if len(in.ServiceAccounts) != n || !in.ServiceAccounts[0].HasPermissions || in.ServiceAccounts[1].HasPermissions {
					b.Fatalf("%d ServiceAccounts, the first with permissions %t, the second %t", len(in.ServiceAccounts), in.ServiceAccounts[0].HasPermissions, in.ServiceAccounts[1].HasPermissions)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pipeline")
		})
	}
}
