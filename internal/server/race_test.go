//go:build race

package server

// raceEnabled: the race detector's shadow memory does not fit a worker's
// memory limit.
const raceEnabled = true
