package panics

import (
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	if Recover(nil) != nil {
		t.Error("no panic is wrapped")
	}
	var got any
	func() {
		defer func() { got = Recover(recover()) }()
		inner()
	}()
	p, ok := got.(Recovered)
	if !ok || p.Value != "boom" || !strings.Contains(string(p.Stack), "panics.inner") {
		t.Fatalf("recovered %#v; want boom with the stack of inner", got)
	}
	if again := Recover(p); again.(Recovered).Value != "boom" || string(again.(Recovered).Stack) != string(p.Stack) {
		t.Error("a recovered panic raised again is wrapped twice")
	}
}

func inner() { panic("boom") }
