//go:build !linux

package server

// setLimits is a no-op where the data segment cannot be limited: the
// deadline still stops a worker.
func setLimits(uint64) error { return nil }
