package engine

import (
	"math/bits"
	"time"
)

// histSub is how many buckets each power of two is split into: a quantile is reported as
// its bucket's upper bound, at most 1/histSub (3 %) above the true value.
const histSub = 32

// histBuckets covers every int64 duration: values below 2·histSub ns get a bucket each,
// then histSub buckets per power of two up to 2^63.
const histBuckets = (63-5)*histSub + 2*histSub

// Histogram counts durations in buckets of bounded relative width, so that millions of
// writes are measured without keeping each one. The zero value is empty and ready.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

func histIndex(ns uint64) int {
	if ns < 2*histSub {
		return int(ns)
	}
	shift := bits.Len64(ns) - 6 // ns>>shift is in [histSub, 2·histSub)
	return shift*histSub + int(ns>>shift)
}

// histUpper is the largest duration of bucket i.
func histUpper(i int) time.Duration {
	if i < 2*histSub {
		return time.Duration(i)
	}
	shift := i/histSub - 1
	mant := uint64(i%histSub + histSub)
	return time.Duration((mant+1)<<shift - 1)
}

// Add counts one duration (negative ones as 0).
func (h *Histogram) Add(d time.Duration) {
	d = max(d, 0)
	h.counts[histIndex(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

// Count is how many durations were added.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest duration added.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile is the duration below which a fraction q of the added ones fall (0 when empty),
// reported as its bucket's upper bound and never above Max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if u := histUpper(i); u >= 0 && u < h.max { // u < 0: the top bucket's bound overflows
				return u
			}
			return h.max
		}
	}
	return h.max
}

// Summary is the figures of a histogram a report shows.
type Summary struct {
	Count                    uint64
	P50, P99, P999, MaxValue time.Duration
}

// Summarize takes the figures.
func (h *Histogram) Summarize() Summary {
	return Summary{Count: h.n, P50: h.Quantile(0.5), P99: h.Quantile(0.99), P999: h.Quantile(0.999), MaxValue: h.max}
}
