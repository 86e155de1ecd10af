package sink

import "sort"

// MaxAhead bounds the sequence numbers a stream keeps above its contiguous
// floor. Past it, the lowest missing numbers are given up as lost (counted
// in Missing) so that memory stays bounded whatever arrives.
const MaxAhead = 1 << 20

// JumpAtLeast is the smallest forward jump of a stream's sequence numbers
// taken as a renumbering rather than missing records: after a crash the
// store continues its numbering a reservation (2^20) higher, so that no
// number is ever used twice (docs/durability.md). A jump is counted in
// Jumped, not Missing; what was missing below it stays counted.
const JumpAtLeast = 1 << 16

// seqs tracks one stream's sequence numbers: every number up to floor has
// been seen (or given up), and ahead holds those seen above it.
type seqs struct {
	started bool
	floor   uint64
	ahead   map[uint64]struct{}
	max     uint64
	lost    uint64 // given up below floor
	unique  uint64
	first   uint64
	jumped  uint64 // numbers skipped by renumbering jumps
	jumps   int
}

// add records seq and reports whether it is new. The first number a stream
// shows is taken as its start: numbers below it count as duplicates (a
// record from before this sink started, or another sink's share).
func (q *seqs) add(seq uint64) bool {
	if !q.started {
		q.started, q.floor, q.max, q.first = true, seq-1, seq-1, seq
	}
	if seq <= q.floor {
		return false
	}
	if seq > q.max+JumpAtLeast {
		q.lost += q.missing() - q.lost
		q.jumped += seq - q.max - 1
		q.jumps++
		q.floor, q.max, q.ahead = seq-1, seq-1, nil
	}
	if seq == q.floor+1 {
		q.floor++
		for len(q.ahead) > 0 {
			if _, ok := q.ahead[q.floor+1]; !ok {
				break
			}
			delete(q.ahead, q.floor+1)
			q.floor++
		}
	} else {
		if _, dup := q.ahead[seq]; dup {
			return false
		}
		if q.ahead == nil {
			q.ahead = map[uint64]struct{}{}
		}
		q.ahead[seq] = struct{}{}
		if len(q.ahead) > MaxAhead {
			q.giveUp()
		}
	}
	q.max = max(q.max, seq)
	q.unique++
	return true
}

// giveUp moves the floor to the lowest number held ahead, counting the
// numbers skipped as lost.
func (q *seqs) giveUp() {
	keys := make([]uint64, 0, len(q.ahead))
	for k := range q.ahead {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	q.lost += keys[0] - q.floor - 1
	for _, k := range keys {
		if k != q.floor+1 && k != keys[0] {
			break
		}
		q.floor = k
		delete(q.ahead, k)
	}
}

// missing is the count of numbers between the start and the highest seen
// that have not arrived (yet).
func (q *seqs) missing() uint64 {
	return q.max - q.floor - uint64(len(q.ahead)) + q.lost
}

// StreamReport is what a sink saw of one stream.
type StreamReport struct {
	Stream  string `json:"stream"`
	Records uint64 `json:"records"` // unique records written
	First   uint64 `json:"first_seq"`
	Max     uint64 `json:"max_seq"`
	Missing uint64 `json:"missing"` // numbers between first and max not seen, jumps excluded
	Jumps   int    `json:"jumps"`   // renumberings (the gateway restarted after a crash)
	Jumped  uint64 `json:"jumped"`  // numbers the jumps skipped
}
