package sim

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var burstRE = regexp.MustCompile(`^\s*(\d+)\s*(?:runs?)?\s*(?:(?:in|over)\s+(\S+))?\s*$`)

// ParseBurst reads a generated load such as "500 runs in 10m" (runs spread
// evenly over the period) or "50 runs" (all at once).
func ParseBurst(s string) ([]time.Duration, error) {
	m := burstRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("invalid burst %q; expected \"<N> runs in <duration>\", such as \"500 runs in 10m\"", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 || n > 1_000_000 {
		return nil, fmt.Errorf("invalid burst %q; expected between 1 and 1000000 runs", s)
	}
	var over time.Duration
	if m[2] != "" {
		if over, err = time.ParseDuration(m[2]); err != nil || over < 0 {
			return nil, fmt.Errorf("invalid burst %q: %q is not a duration; expected one such as \"10m\"", s, m[2])
		}
	}
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = over * time.Duration(i) / time.Duration(n)
	}
	return out, nil
}

// ReadTrace reads a load trace: CSV lines "offset,count" where offset is a
// duration from the start ("90s", "1h5m") or a number of seconds, and count
// runs arrive then (default 1). Blank lines, lines starting with '#' and a
// header line are skipped. name is used in errors.
func ReadTrace(r io.Reader, name string) ([]time.Duration, error) {
	var out []time.Duration
	data := false // past the header, if any
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, ",")
		offset := strings.TrimSpace(fields[0])
		at, err := time.ParseDuration(offset)
		if err != nil {
			secs, ferr := strconv.ParseFloat(offset, 64)
			if ferr != nil {
				if !data {
					data = true // the header
					continue
				}
				return nil, fmt.Errorf("%s:%d: invalid offset %q; expected a duration such as \"90s\" or a number of seconds", name, line, offset)
			}
			at = time.Duration(secs * float64(time.Second))
		}
		data = true
		if at < 0 {
			return nil, fmt.Errorf("%s:%d: negative offset %q", name, line, offset)
		}
		count := 1
		if len(fields) > 1 {
			if count, err = strconv.Atoi(strings.TrimSpace(fields[1])); err != nil || count < 0 {
				return nil, fmt.Errorf("%s:%d: invalid count %q; expected a whole number of runs", name, line, strings.TrimSpace(fields[1]))
			}
		}
		for range count {
			out = append(out, at)
		}
		if len(out) > 1_000_000 {
			return nil, fmt.Errorf("%s: more than 1000000 runs", name)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no runs; expected lines \"offset,count\" such as \"90s,12\"", name)
	}
	return out, nil
}
