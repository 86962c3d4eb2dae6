package compiler

import (
	"strings"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// duplicateObjects reports each generated object whose identity (API
// group, kind, namespace and name) an earlier one already has, at the
// later one's CUE path: applied together, one would silently replace the
// other (an app named after one of pipec's own objects, say Flux's
// pipec-flux Kustomization). The objects come in the order the targets
// generated them. Objects a preview's Application puts in each pull
// request's namespace are told apart by their directory.
func duplicateObjects(objs []targets.Object, src model.SourceMap) diag.List {
	var out diag.List
	type id struct{ group, kind, ns, name, dir string }
	first := map[id]targets.Object{}
	for _, o := range objs {
		group, _, _ := strings.Cut(o.APIVersion, "/")
		if !strings.Contains(o.APIVersion, "/") {
			group = ""
		}
		k := id{group: group, kind: o.Kind, ns: o.Namespace, name: o.Name}
		if o.Namespace == "" && targets.NamespacedOnApply(o.Dir) {
			k.dir = o.Dir
		}
		prev, dup := first[k]
		if !dup {
			first[k] = o
			continue
		}
		where := o.Name
		if o.Namespace != "" {
			where = o.Namespace + "/" + o.Name
		}
		d := out.Report(ruleDuplicate, src, o.Source, "%s %s generated from here is also generated from %s: one would replace the other", o.Kind, where, prev.Source)
		d.Expected = "objects with different names"
		d.Hint = "rename what this object is named after"
	}
	return out
}
