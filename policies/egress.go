package policies

import (
	"math/big"
	"net/netip"
	"slices"
)

// egressShare is the share of its address family's space (IPv4 or IPv6,
// the larger) that a set of CIDRs covers together: 0.0.0.0/1 and
// 128.0.0.0/1 cover all of IPv4 as 0.0.0.0/0 does. Invalid CIDRs count
// for nothing (the checks report them).
func egressShare(cidrs []string) float64 {
	var v4, v6 []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			continue
		}
		if p.Addr().Is4() {
			v4 = append(v4, p.Masked())
		} else {
			v6 = append(v6, p.Masked())
		}
	}
	return max(covered(v4, 32), covered(v6, 128))
}

// covered is the share of a bits-wide address space the prefixes cover
// together, counting overlaps once.
func covered(ps []netip.Prefix, bits int) float64 {
	if len(ps) == 0 {
		return 0
	}
	type span struct{ lo, hi *big.Int } // hi exclusive
	var spans []span
	for _, p := range ps {
		lo := new(big.Int).SetBytes(p.Addr().AsSlice())
		size := new(big.Int).Lsh(big.NewInt(1), uint(bits-p.Bits()))
		spans = append(spans, span{lo, new(big.Int).Add(lo, size)})
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo.Cmp(b.lo) })
	total := new(big.Int)
	cur := spans[0]
	for _, s := range spans[1:] {
		if s.lo.Cmp(cur.hi) <= 0 {
			if s.hi.Cmp(cur.hi) > 0 {
				cur.hi = s.hi
			}
			continue
		}
		total.Add(total, new(big.Int).Sub(cur.hi, cur.lo))
		cur = s
	}
	total.Add(total, new(big.Int).Sub(cur.hi, cur.lo))
	share, _ := new(big.Float).Quo(new(big.Float).SetInt(total), new(big.Float).SetInt(new(big.Int).Lsh(big.NewInt(1), uint(bits)))).Float64()
	return share
}
