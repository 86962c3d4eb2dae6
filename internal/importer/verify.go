package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/targets/tekton"
)

// verify makes the import lossless or loud: it compiles the CUE it wrote
// with pipec, generates the Tekton objects from it, and compares each with
// the Task or Pipeline it came from, both defaulted by Tekton. Whatever the
// input sets that the output does not hold, or holds changed, is an issue
// at its YAML path, unless an issue already covers it. pipec's own
// additions (security contexts, resources, labels) are not differences.
func (im *importer) verify(src []byte) {
	ctx := context.Background()
	cfg := append(append([]byte{}, src...), "\nnamespace: \"pipec-import\"\n"...)
	res, err := compiler.Build(ctx, compiler.Options{Dir: "/pipec-import", BaseDir: "/pipec-import",
		Overlay: map[string][]byte{"/pipec-import/pipec.cue": cfg}})
	if err == nil && res.Plan == nil {
		// The CUE the import wrote does not fit pipec's schema: a value
		// Tekton takes that pipec's field does not (an onError from a
		// parameter, say). Say so, or the rest would go unchecked.
		for _, d := range res.Diagnostics {
			src := "the imported CUE"
			if parts := strings.SplitN(string(d.Path), ".", 3); len(parts) >= 2 {
				kind := map[string]string{"tasks": "Task", "pipelines": "Pipeline"}[parts[0]]
				if kind != "" {
					src = kind + " " + strings.Trim(parts[1], `"`)
				}
			}
			im.issues = append(im.issues, Issue{Source: src, Field: string(d.Path),
				Message: "pipec's schema refuses the imported value: " + d.Message})
		}
		return
	}
	if err != nil || res.Plan == nil {
		return
	}
	objs, _ := tekton.New().Generate(ctx, res.Plan)
	got := map[string]any{}
	for _, o := range objs {
		got[o.Kind+"/"+o.Name] = o.Value
	}
	for _, d := range im.docs {
		var src, key string
		var in, out *view
		switch x := d.(type) {
		case *v1.Task:
			src, key = "Task "+x.Name, "Task/"+x.Name
			t := x.DeepCopy()
			t.SetDefaults(ctx)
			mergeTemplate(&t.Spec)
			in = &view{userLabels(t.Labels), t.Annotations, t.Spec}
			if g, ok := got[key].(*v1.Task); ok {
				g = g.DeepCopy()
				g.SetDefaults(ctx)
				out = &view{g.Labels, g.Annotations, g.Spec}
			}
		case *v1.Pipeline:
			src, key = "Pipeline "+x.Name, "Pipeline/"+x.Name
			p := x.DeepCopy()
			p.SetDefaults(ctx)
			for _, ts := range [][]v1.PipelineTask{p.Spec.Tasks, p.Spec.Finally} {
				for i := range ts {
					if ts[i].TaskSpec != nil {
						mergeTemplate(&ts[i].TaskSpec.TaskSpec)
					}
				}
			}
			in = &view{userLabels(p.Labels), p.Annotations, p.Spec}
			if g, ok := got[key].(*v1.Pipeline); ok {
				g = g.DeepCopy()
				g.SetDefaults(ctx)
				out = &view{g.Labels, g.Annotations, g.Spec}
			}
		}
		if out == nil {
			continue // not generated: pipec's checks say why
		}
		a, b := plainJSON(in), plainJSON(out)
		diffValues(a, b, "", func(path, what string) {
			for from, to := range map[string]string{"Spec": "spec", "Labels": "metadata.labels", "Annotations": "metadata.annotations"} {
				if rest, ok := strings.CutPrefix(path, from); ok {
					path = to + rest
				}
			}
			for _, i := range im.issues {
				if i.Source == src && (strings.HasPrefix(path, i.Field) || strings.HasPrefix(i.Field, path)) {
					return
				}
			}
			im.issues = append(im.issues, Issue{Source: src, Field: path, Message: what})
		})
	}
}

// mergeTemplate applies a task's step template to its steps, with
// Tekton's own merge, and drops it: pipec applies it when it decodes, so
// the generated steps hold what the template gave them.
func mergeTemplate(s *v1.TaskSpec) {
	if s.StepTemplate == nil {
		return
	}
	if steps, err := v1.MergeStepsWithStepTemplate(s.StepTemplate, s.Steps); err == nil {
		s.Steps, s.StepTemplate = steps, nil
	}
}

// view is what verify compares of a Task or Pipeline.
type view struct {
	Labels, Annotations map[string]string
	Spec                any
}

// userLabels are the labels an import keeps (userMap).
func userLabels(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range userMap(m) {
		out[k] = v.(string)
	}
	return out
}

func plainJSON(v any) any {
	data, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}

// diffValues reports, at its path, what in sets that out lacks or holds
// changed. Lists of named items (params, steps, env, ...) are matched by
// name, mounts by mountPath.
func diffValues(in, out any, path string, report func(path, what string)) {
	switch x := in.(type) {
	case map[string]any:
		o, ok := out.(map[string]any)
		if !ok {
			report(path, "was not imported: pipec does not support it yet")
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if zero(x[k]) {
				continue
			}
			p := k
			if path != "" {
				p = path + "." + k
			}
			ov, ok := o[k]
			if !ok {
				report(p, "is not supported by pipec and was not imported")
				continue
			}
			diffValues(x[k], ov, p, report)
		}
	case []any:
		o, _ := out.([]any)
		if key := listKey(x); key != "" {
			byKey := map[any]any{}
			for _, e := range o {
				if m, ok := e.(map[string]any); ok {
					byKey[m[key]] = e
				}
			}
			for i, e := range x {
				p := fmt.Sprintf("%s[%d]", path, i)
				oe, ok := byKey[e.(map[string]any)[key]]
				if !ok {
					report(p, "was not imported")
					continue
				}
				diffValues(e, oe, p, report)
			}
			return
		}
		if len(x) != len(o) {
			report(path, fmt.Sprintf("the import changed it: %d items became %d", len(x), len(o)))
			return
		}
		for i := range x {
			diffValues(x[i], o[i], fmt.Sprintf("%s[%d]", path, i), report)
		}
	default:
		if !reflect.DeepEqual(in, out) {
			report(path, fmt.Sprintf("the import changed it: %s became %s", short(in), short(out)))
		}
	}
}

// listKey is the field that names the items of a list of objects.
func listKey(l []any) string {
	for _, key := range []string{"name", "mountPath"} {
		ok := len(l) > 0
		seen := map[any]bool{}
		for _, e := range l {
			m, isMap := e.(map[string]any)
			s, isStr := m[key].(string)
			if !isMap || !isStr || s == "" || seen[s] {
				ok = false
				break
			}
			seen[s] = true
		}
		if ok {
			return key
		}
	}
	return ""
}

func zero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case float64:
		return x == 0
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

func short(v any) string {
	data, _ := json.Marshal(v)
	if len(data) > 60 {
		return string(data[:57]) + "..."
	}
	return string(data)
}

// annotate puts, before each task and pipeline the import could not carry
// over whole, a comment that lists what it lost, so that a partial import
// says so where a reviewer reads it.
func annotate(src []byte, issues []Issue) ([]byte, error) {
	if len(issues) == 0 {
		return src, nil
	}
	f, err := parser.ParseFile("import.cue", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	lost := map[string][]string{} // "tasks.x" -> lines
	for _, i := range issues {
		kind, name, ok := strings.Cut(i.Source, " ")
		if !ok {
			continue
		}
		top := map[string]string{"Task": "tasks", "Pipeline": "pipelines"}[kind]
		lost[top+"."+name] = append(lost[top+"."+name], fmt.Sprintf("%s: %s", i.Field, i.Message))
	}
	for _, d := range f.Decls {
		top, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		topName, _, _ := ast.LabelName(top.Label)
		st, ok := top.Value.(*ast.StructLit)
		if !ok {
			continue
		}
		for _, e := range st.Elts {
			fd, ok := e.(*ast.Field)
			if !ok {
				continue
			}
			name, _, _ := ast.LabelName(fd.Label)
			lines := lost[topName+"."+name]
			if len(lines) == 0 {
				continue
			}
			cg := &ast.CommentGroup{Doc: true, List: []*ast.Comment{{Text: "// pipec import --allow-partial could not carry over (from the Tekton YAML):"}}}
			for _, l := range lines {
				cg.List = append(cg.List, &ast.Comment{Text: "//   " + l})
			}
			ast.AddComment(fd, cg)
		}
	}
	out, err := format.Node(f)
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return out, nil
}
