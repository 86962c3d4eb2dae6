// Package cueload is the one place pipec's embedded CUE packages (the
// schema, and the policy definitions and built-in packs) meet CUE's
// loader: their files, read from the binary once, are laid into a loader
// overlay, so they never come from disk or a registry.
package cueload

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"cuelang.org/go/cue/load"
)

// LanguageVersion is the CUE language version of pipec's own modules: the
// schema's, the policy packs', and the module pipec makes up for a
// configuration that has no cue.mod.
const LanguageVersion = "v0.9.0"

// ModuleFile is the cue.mod/module.cue of a module of pipec's.
func ModuleFile(module string) string {
	return fmt.Sprintf("module: %q\nlanguage: version: %q\n", module, LanguageVersion)
}

// Files are the CUE files of a package tree, by slash-separated path
// relative to the tree's root.
type Files map[string][]byte

// Read reads the .cue files of fsys below dir. place maps a path below dir
// to the file's path in the package tree; nil keeps it.
func Read(fsys fs.FS, dir string, place func(rel string) string) (Files, error) {
	files := Files{}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".cue" {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		if place != nil {
			rel = place(rel)
		}
		files[rel] = data
		return nil
	})
	return files, err
}

// AddTo lays the files into a loader overlay under the directory dir.
func (f Files) AddTo(ov map[string]load.Source, dir string) {
	for rel, data := range f {
		ov[filepath.Join(dir, filepath.FromSlash(rel))] = load.FromBytes(data)
	}
}
