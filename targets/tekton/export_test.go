package tekton

// For the external tests.
var (
	SplitGates        = splitGates
	Accepts           = accepts
	CanonicalLiterals = canonicalLiterals
)
