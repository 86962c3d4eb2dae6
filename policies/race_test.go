//go:build race

package policies

// raceEnabled: the differential tests of the parts start no goroutine and
// take ten times as long under the race detector; the race run covers Run
// through TestCheckExamples.
const raceEnabled = true
