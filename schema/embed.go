// Package schema embeds pipec's CUE schema, the single source of truth for
// what a pipec configuration may contain. User configurations import it as
// the CUE package "pipec.dev/schema"; the compiler provides it from this
// embedded copy, so no network or CUE registry is ever needed.
package schema

import "embed"

// ImportPath is the CUE import path under which the schema is available to
// user configurations.
const ImportPath = "pipec.dev/schema"

// Root is the definition every user configuration is unified with.
const Root = "#Config"

// FS holds the schema's CUE files.
//
//go:embed *.cue
var FS embed.FS
