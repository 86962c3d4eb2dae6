// Package schema embeds pipec's CUE schema, the single source of truth for
// what a pipec configuration may contain. User configurations import it as
// the CUE package "pipec.dev/schema"; the compiler provides it from this
// embedded copy, so no network or CUE registry is ever needed.
package schema

import (
	"embed"
	"sync"

	"cuelang.org/go/cue"

	"github.com/pipec/pipec/internal/cueload"
)

// ImportPath is the CUE import path under which the schema is available to
// user configurations.
const ImportPath = "pipec.dev/schema"

// Module is the schema's CUE module, when it is loaded on its own.
const Module = ImportPath + "@v0"

// Root is the definition every user configuration is unified with.
const Root = "#Config"

// RootPath is the path of Root in the schema package.
var RootPath = cue.MakePath(cue.Def(Root))

// Files returns the schema's CUE files, read once.
var Files = sync.OnceValues(func() (cueload.Files, error) { return cueload.Read(FS, ".", nil) })

// FS holds the schema's CUE files.
//
//go:embed *.cue
var FS embed.FS
