// Package panics carries a panic recovered in a goroutine to the
// goroutine that waits for it, with the stack where it happened: raised
// again there, the caller's recovery (compiler.Build's) reports that
// stack rather than the one of the goroutine that raised it again.
package panics

import "runtime/debug"

// Recovered is a panic recovered in a goroutine.
type Recovered struct {
	Value any
	Stack []byte
}

// Recover wraps r, the value recover returned in a goroutine, with that
// goroutine's stack, unless it already carries one; nil when r is nil.
// Call it in the deferred function itself, where the stack is still the
// panicking goroutine's.
func Recover(r any) any {
	if r == nil {
		return nil
	}
	if p, ok := r.(Recovered); ok {
		return p
	}
	return Recovered{Value: r, Stack: debug.Stack()}
}
