package compiler

import (
	"testing"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// TestDuplicateObjects: two objects with one identity are reported at the
// later one; a preview's namespace-less guard rails, which each pull
// request's Application applies to its own namespace, are not duplicates
// of another preview's.
func TestDuplicateObjects(t *testing.T) {
	obj := func(kind, ns, name, dir string, src model.Path) targets.Object {
		return targets.Object{APIVersion: "v1", Kind: kind, Namespace: ns, Name: name, Dir: dir, Source: src}
	}
	shop, web := model.Path("previews.shop"), model.Path("previews.web")
	for _, c := range []struct {
		name string
		objs []targets.Object
		want int
	}{
		{"same identity", []targets.Object{obj("ConfigMap", "ci", "a", targets.CIDir, shop), obj("ConfigMap", "ci", "a", targets.CIDir, web)}, 1},
		{"other namespace", []targets.Object{obj("ConfigMap", "ci", "a", targets.CIDir, shop), obj("ConfigMap", "dev", "a", targets.EnvDir("dev"), web)}, 0},
		{"two previews' guard rails", []targets.Object{obj("ResourceQuota", "", "pipec-quota", targets.PreviewDir("shop"), shop), obj("ResourceQuota", "", "pipec-quota", targets.PreviewDir("web"), web)}, 0},
		{"one preview's guard rails twice", []targets.Object{obj("ResourceQuota", "", "q", targets.PreviewDir("shop"), shop), obj("ResourceQuota", "", "q", targets.PreviewDir("shop"), web)}, 1},
		{"cluster-scoped in two environments", []targets.Object{obj("Namespace", "", "n", targets.EnvDir("dev"), shop), obj("Namespace", "", "n", targets.EnvDir("prod"), web)}, 1},
	} {
		if got := duplicateObjects(c.objs, model.SourceMap{}); len(got) != c.want {
			t.Errorf("%s: %d findings, want %d: %v", c.name, len(got), c.want, got)
		}
	}
}
