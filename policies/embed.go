// Package policies is pipec's policy engine: policy packs written in CUE
// (the built-in baseline and restricted packs, and custom packs that are
// ordinary CUE modules) evaluated over a flattened view of the compiled
// configuration (Input), with waivers. Findings are diag.Diagnostics with a
// stable id (pipec/<pack>/<check>), a severity, a category, the standard
// they come from, and the CUE position of the value that caused them.
package policies

import (
	"embed"
	"strings"
	"sync"

	"cuelang.org/go/cue"

	"github.com/pipec/pipec/internal/cueload"
)

// ImportPath is the CUE import path of the policy definitions (#Pack,
// #Check, #Input); built-in packs are ImportPath + "/" + name.
const ImportPath = "pipec.dev/policy"

// Module is the policy definitions' CUE module, when they are loaded on
// their own.
const Module = ImportPath + "@v0"

// Paths in the policy package and in a pack.
var (
	PackDefPath = cue.MakePath(cue.Def("#Pack"))
	packPath    = cue.MakePath(cue.Str("pack"))
	inputPath   = cue.MakePath(cue.Str("input"))
)

// violationsPath is the path of a check's violations in a pack.
func violationsPath(check string) cue.Path {
	return cue.MakePath(cue.Str("checks"), cue.Str(check), cue.Str("violations"))
}

// Files returns the policy package and the built-in packs as a package
// tree, read once: the definitions (cue/policy) at its root, each pack in
// a directory of its own.
var Files = sync.OnceValues(func() (cueload.Files, error) {
	return cueload.Read(FS, "cue", func(rel string) string { return strings.TrimPrefix(rel, "policy/") })
})

// Builtin packs, by name.
var Builtin = []string{"baseline", "restricted"}

// FloorPack checks every production environment, whatever packs the
// environment names.
const FloorPack = "baseline"

// ProductionDefault are the packs of a production environment that names
// none. A production environment runs them, and FloorPack, whatever packs
// it names.
var ProductionDefault = []string{"restricted"}

// FS holds the CUE sources: policy/ (package policy) and one directory per
// built-in pack.
//
//go:embed cue
var FS embed.FS
