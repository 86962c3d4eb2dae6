package policies

import "errors"

// EvaluateParts evaluates the pack part by part, as Run does, without
// falling back to all of the input when a part fails.
func (p *Pack) EvaluateParts(in *Input) (map[*Check][]Violation, error) {
	if p.split == nil {
		return nil, errors.New("the pack's source was not analysed")
	}
	j := newPackJob(p, in, "")
	for i := range j.batches {
		if j.evaluateBatch(p, i); j.errs[i] != nil {
			return nil, j.errs[i]
		}
	}
	j.finish(p, nil)
	return j.res, nil
}

// EvaluateWhole evaluates the pack over all of in at once.
func (p *Pack) EvaluateWhole(in *Input) (map[*Check][]Violation, error) {
	iv, err := p.compile(in)
	if err != nil {
		return nil, err
	}
	return p.evaluate(iv)
}

// SetMinBatch sets the size below which parts are evaluated together
// (-1: each on its own) until the test ends.
func SetMinBatch(t interface{ Cleanup(func()) }, n int) {
	old := minBatch
	minBatch = n
	t.Cleanup(func() { minBatch = old })
}

// SetRunItems splits every part of a check that reads a list one item
// at a time into runs of n items until the test ends.
func SetRunItems(t interface{ Cleanup(func()) }, n int) {
	old := runItems
	runItems = n
	t.Cleanup(func() { runItems = old })
}

// RaceEnabled reports whether the tests run under the race detector.
const RaceEnabled = raceEnabled
