//go:build race

package bundle

// raceEnabled: the race detector allocates on its own, which allocation
// bounds would count.
const raceEnabled = true
