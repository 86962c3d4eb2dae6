// Package noi18n turns off kubectl's message translations, which pipec
// never shows but which the Argo CD API types pull in (through
// gitops-engine): loading them at start-up cost about 40 ms on every pipec
// run. It must be imported by main before anything else that uses kubectl's
// i18n; Go initialises it first because its import path sorts before
// k8s.io/kubectl's.
package noi18n

import "k8s.io/kubectl/pkg/util/i18n"

func init() {
	// The upstream hook for exactly this: replace the loader before any
	// i18n.T call. It can only fail if translations were already loaded.
	_ = i18n.SetLoadTranslationsFunc(func() error { return nil })
}
