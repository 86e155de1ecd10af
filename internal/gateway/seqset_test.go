package gateway

import (
	"math/rand/v2"
	"testing"
)

// model is a SeqSet as a plain map, for comparison.
type model map[uint64]bool

func (m model) set() SeqSet {
	var q SeqSet
	for v := range m {
		q.Add(v, v)
	}
	return q
}

func check(t *testing.T, what string, q SeqSet, m model) {
	t.Helper()
	if q.Len() != uint64(len(m)) {
		t.Fatalf("%s: Len %d, want %d (%v)", what, q.Len(), len(m), q.s)
	}
	for v := range m {
		if !q.Contains(v) {
			t.Fatalf("%s: %d missing (%v)", what, v, q.s)
		}
	}
	for i, r := range q.s {
		if r.lo > r.hi || (i > 0 && q.s[i-1].hi+1 >= r.lo) {
			t.Fatalf("%s: ranges not sorted, disjoint and apart: %v", what, q.s)
		}
	}
}

func TestSeqSetAgainstAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var q SeqSet
		m := model{}
		for k := 0; k < 40; k++ {
			lo := uint64(rng.IntN(200)) + 1
			hi := lo + uint64(rng.IntN(8))
			want := uint64(0)
			for v := lo; v <= hi; v++ {
				if m[v] {
					want++
				}
				m[v] = true
			}
			if got := q.Add(lo, hi); got != want {
				t.Fatalf("Add(%d, %d) reported %d already present, want %d", lo, hi, got, want)
			}
			check(t, "add", q, m)
		}
		o := model{}
		for k := 0; k < 60; k++ {
			o[uint64(rng.IntN(220))+1] = true
		}
		os := o.set()
		minus, inter := model{}, model{}
		for v := range m {
			if o[v] {
				inter[v] = true
			} else {
				minus[v] = true
			}
		}
		check(t, "minus", q.Minus(&os), minus)
		check(t, "intersect", q.Intersect(&os), inter)
		bound := uint64(rng.IntN(220))
		below, rest := q.Split(bound)
		bm, rm := model{}, model{}
		for v := range m {
			if v < bound {
				bm[v] = true
			} else {
				rm[v] = true
			}
		}
		check(t, "split below", below, bm)
		check(t, "split rest", rest, rm)
		if n := q.CountBelow(bound); n != uint64(len(bm))+boolInt(m[bound]) {
			t.Fatalf("CountBelow(%d) = %d", bound, n)
		}
	}
}

func boolInt(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
