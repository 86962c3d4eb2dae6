package compiler

import (
	"reflect"
	"testing"
)

func TestFindRefs(t *testing.T) {
	tests := []struct {
		in   string
		want []ref
	}{
		{"no refs", nil},
		{"$(params.url)", []ref{{Raw: "$(params.url)", Kind: "params", Parts: []string{"url"}}}},
		{`x $(params["a.b"]) y`, []ref{{Raw: `$(params["a.b"])`, Kind: "params", Parts: []string{"a.b"}}}},
		{"$(params.flags[*])", []ref{{Raw: "$(params.flags[*])", Kind: "params", Parts: []string{"flags"}}}},
		{"$(tasks.build.results.IMAGE_DIGEST) and $(results.out.path)", []ref{
			{Raw: "$(tasks.build.results.IMAGE_DIGEST)", Kind: "tasks", Parts: []string{"build", "results", "IMAGE_DIGEST"}},
			{Raw: "$(results.out.path)", Kind: "results", Parts: []string{"out", "path"}},
		}},
		{"$(tasks.a.results.arr[1])", []ref{{Raw: "$(tasks.a.results.arr[1])", Kind: "tasks", Parts: []string{"a", "results", "arr"}}}},
		{"$(git rev-parse HEAD)", []ref{{Raw: "$(git rev-parse HEAD)", Kind: "git rev-parse HEAD", Parts: []string{}}}},
	}
	for _, tt := range tests {
		if got := findRefs(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("findRefs(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestParamName(t *testing.T) {
	declared := map[string]bool{"a.b": true, "c": true}
	is := func(n string) bool { return declared[n] }
	tests := []struct {
		parts []string
		want  string
		ok    bool
	}{
		{[]string{"a", "b"}, "a.b", true},
		{[]string{"c", "key"}, "c", true},
		{[]string{"d"}, "d", false},
	}
	for _, tt := range tests {
		got, ok := paramName(tt.parts, is)
		if got != tt.want || ok != tt.ok {
			t.Errorf("paramName(%q) = %q, %v; want %q, %v", tt.parts, got, ok, tt.want, tt.ok)
		}
	}
}
