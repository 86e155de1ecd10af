package gateway

import "sort"

// span is the closed range of sequence numbers [lo, hi].
type span struct{ lo, hi uint64 }

// SeqSet is a set of sequence numbers kept as sorted, disjoint, non-adjacent
// ranges. Appending above the highest member (the common case: records
// arrive in order) is O(1).
type SeqSet struct {
	s []span
}

// Len is the number of members.
func (q *SeqSet) Len() uint64 {
	var n uint64
	for _, r := range q.s {
		n += r.hi - r.lo + 1
	}
	return n
}

// Max is the highest member, 0 when empty.
func (q *SeqSet) Max() uint64 {
	if len(q.s) == 0 {
		return 0
	}
	return q.s[len(q.s)-1].hi
}

// Spans is the number of disjoint ranges (1 + the number of gaps).
func (q *SeqSet) Spans() int { return len(q.s) }

// Contains reports whether v is a member.
func (q *SeqSet) Contains(v uint64) bool {
	i := sort.Search(len(q.s), func(i int) bool { return q.s[i].hi >= v })
	return i < len(q.s) && q.s[i].lo <= v
}

// Add inserts [lo, hi] and returns how many of those numbers were already
// members.
func (q *SeqSet) Add(lo, hi uint64) (already uint64) {
	if hi < lo {
		return 0
	}
	n := len(q.s)
	if n == 0 || q.s[n-1].hi+1 < lo {
		q.s = append(q.s, span{lo, hi})
		return 0
	}
	if last := &q.s[n-1]; last.hi < lo { // adjacent above the last range
		last.hi = hi
		return 0
	}
	// General case: merge every range that overlaps or touches [lo, hi].
	i := sort.Search(n, func(i int) bool { return q.s[i].hi+1 >= lo })
	j := i
	nlo, nhi := lo, hi
	for j < n && q.s[j].lo <= hi+1 {
		r := q.s[j]
		olo, ohi := max(r.lo, lo), min(r.hi, hi)
		if olo <= ohi {
			already += ohi - olo + 1
		}
		nlo, nhi = min(nlo, r.lo), max(nhi, r.hi)
		j++
	}
	q.s = append(q.s[:i], append([]span{{nlo, nhi}}, q.s[j:]...)...)
	return already
}

// AddSet inserts every member of o.
func (q *SeqSet) AddSet(o *SeqSet) {
	for _, r := range o.s {
		q.Add(r.lo, r.hi)
	}
}

// Minus returns the members of q that are not in o.
func (q *SeqSet) Minus(o *SeqSet) SeqSet {
	var out SeqSet
	j := 0
	for _, r := range q.s {
		lo := r.lo
		for j < len(o.s) && o.s[j].hi < lo {
			j++
		}
		k := j
		for lo <= r.hi {
			if k >= len(o.s) || o.s[k].lo > r.hi {
				out.s = append(out.s, span{lo, r.hi})
				break
			}
			if o.s[k].lo > lo {
				out.s = append(out.s, span{lo, o.s[k].lo - 1})
			}
			if o.s[k].hi >= r.hi {
				break
			}
			lo = max(lo, o.s[k].hi+1)
			k++
		}
	}
	return out
}

// Intersect returns the members of both q and o.
func (q *SeqSet) Intersect(o *SeqSet) SeqSet {
	var out SeqSet
	i, j := 0, 0
	for i < len(q.s) && j < len(o.s) {
		a, b := q.s[i], o.s[j]
		lo, hi := max(a.lo, b.lo), min(a.hi, b.hi)
		if lo <= hi {
			out.s = append(out.s, span{lo, hi})
		}
		if a.hi < b.hi {
			i++
		} else {
			j++
		}
	}
	return out
}

// CountBelow is how many members are ≤ v.
func (q *SeqSet) CountBelow(v uint64) uint64 {
	var n uint64
	for _, r := range q.s {
		if r.lo > v {
			break
		}
		n += min(r.hi, v) - r.lo + 1
	}
	return n
}

// Split divides q into the members below bound and those at or above it.
func (q *SeqSet) Split(bound uint64) (below, rest SeqSet) {
	for _, r := range q.s {
		switch {
		case r.hi < bound:
			below.s = append(below.s, r)
		case r.lo >= bound:
			rest.s = append(rest.s, r)
		default:
			below.s = append(below.s, span{r.lo, bound - 1})
			rest.s = append(rest.s, span{bound, r.hi})
		}
	}
	return below, rest
}
