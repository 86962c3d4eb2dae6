// Package policies is pipec's policy engine: policy packs written in CUE
// (the built-in baseline and restricted packs, and custom packs that are
// ordinary CUE modules) evaluated over a flattened view of the compiled
// configuration (Input), with waivers. Findings are diag.Diagnostics with a
// stable id (pipec/<pack>/<check>), a severity, a category, the standard
// they come from, and the CUE position of the value that caused them.
package policies

import "embed"

// ImportPath is the CUE import path of the policy definitions (#Pack,
// #Check, #Input); built-in packs are ImportPath + "/" + name.
const ImportPath = "pipec.dev/policy"

// Builtin packs, by name.
var Builtin = []string{"baseline", "restricted"}

// FS holds the CUE sources: policy/ (package policy) and one directory per
// built-in pack.
//
//go:embed cue
var FS embed.FS
