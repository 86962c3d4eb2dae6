//go:build !linux

package server

import (
	"os"
	"time"
)

// setLimits is a no-op where the data segment cannot be limited: the
// deadline still stops a worker.
func setLimits(uint64) error { return nil }

// limitCPU leaves the CPU time alone: the server kills a worker at its
// deadline, and the worker's watchdog exits when the server is gone.
func limitCPU(time.Duration) {}

// peakRSS is unknown: a crash is not taken for the memory limit.
func peakRSS(*os.ProcessState) int64 { return 0 }

// lowerPriority leaves the priority alone.
func lowerPriority(int) {}

// privateRSS is unknown: the deadline still stops a worker.
func privateRSS(int) int64 { return 0 }
