package mm2

import (
	"github.com/mm2go/mm2/internal/layout"
	"github.com/mm2go/mm2/internal/pool"
)

// Drops behind a batch in flight.
//
// A RAM record's sequence number is implicit: acked plus its position in
// the chain. When the pool is full and a stream has a batch pending, the
// oldest sector holding no pending record lies behind that batch; freeing it
// leaves a hole in the numbering. The hole is kept in the chain as a gap
// sector: a sector with no record (chain-table count 0) whose payload is how
// many numbers were dropped at that place (layout.Gap). Numbering walks over
// it, so the records after a drop keep their numbers, a reader sees the gap,
// and a NACK redelivers exactly what is left with the same numbers.
//
// A drop that opens a gap turns the dropped sector into the gap sector and
// frees the next one (its records are dropped too: two sectors' records for
// one free sector, once per gap); a drop next to an existing gap frees one
// sector and grows the gap. Gap sectors are never adjacent and never the head
// (a gap reaching the head is folded into acked, which counts "acknowledged
// or dropped"); one may be the tail, which then takes no record.

// isGap reports whether sec, a sector of a chain, is a gap sector.
func (m *Manager) isGap(sec uint32) bool { return sec != pool.Nil && m.pool.Count(sec) == 0 }

// gapOf is the number of dropped records gap sector sec stands for.
func (m *Manager) gapOf(sec uint32) uint64 { return layout.Gap(m.pool.Sector(sec)) }

// gapsBefore sums the gaps of the gap sectors of s's chain before sec (all
// of them with sec = pool.Nil).
func (s *Stream) gapsBefore(sec uint32) uint64 {
	m := s.m
	if m.gapSecs == 0 {
		return 0
	}
	p := m.pool
	var n uint64
	for id, steps := s.head, 0; id != sec && id != pool.Nil && steps <= p.Len(); id, steps = p.Next(id), steps+1 {
		if m.isGap(id) {
			n += m.gapOf(id)
		}
	}
	return n
}

// seqBefore is the sequence number of the record before cursor c.
func (s *Stream) seqBefore(c cursor, pos int) uint64 {
	return s.acked + uint64(pos) + s.gapsBefore(c.sec)
}

// readSeq is the number of the newest record read (pending), acked when
// nothing is pending.
func (s *Stream) readSeq() uint64 {
	if s.pending == 0 {
		return s.acked
	}
	if d := s.m.disk; d != nil && int(s.pending) > s.ramAvail() {
		return d.lastRead(s) // the batch reaches into the disk part
	}
	if s.m.gapSecs == 0 {
		return s.acked + uint64(s.pending)
	}
	c := s.seek(int(s.headSkip) + int(s.pending) - 1)
	seq := s.seqBefore(c, int(s.pending)-1)
	s.next(&c, &seq)
	return seq
}

// dataTail is the tail sector when it can take records, pool.Nil when the
// chain is empty or ends with a gap sector.
func (s *Stream) dataTail() uint32 {
	if t := s.tail; t != pool.Nil && !s.m.isGap(t) {
		return t
	}
	return pool.Nil
}

// firstUnsent returns the oldest data sector of the chain that holds no
// pending record while a batch is pending, and the sector before it.
func (s *Stream) firstUnsent() (prev, x uint32) {
	p := s.m.pool
	pos := -int(s.headSkip) // position of the sector's first record among the unacknowledged
	for sec := s.head; sec != pool.Nil; prev, sec = sec, p.Next(sec) {
		c := p.Count(sec)
		if c > 0 && pos >= int(s.pending) {
			return prev, sec
		}
		pos += c
	}
	return pool.Nil, pool.Nil
}

// behindCandidate is the sector dropBehind would drop, or pool.Nil when no
// sector can be freed behind the batch in flight.
func (s *Stream) behindCandidate() uint32 {
	prev, x := s.firstUnsent()
	if x == pool.Nil {
		return pool.Nil
	}
	if s.m.isGap(prev) || s.m.pool.Next(x) != pool.Nil {
		return x
	}
	return pool.Nil // x ends the chain after a data sector: dropping it frees nothing
}

// dropBehind drops the records of the oldest sector behind the stream's batch
// in flight and frees one sector (see behindCandidate). It returns how many
// records it dropped and the number of the first, 0 when it could not.
func (s *Stream) dropBehind() (n uint32, first uint64) {
	m, p := s.m, s.m.pool
	prev, x := s.firstUnsent()
	if x == pool.Nil {
		return 0, 0
	}
	next := p.Next(x)
	pos := 0 // records before x among the unacknowledged
	for sec := s.head; sec != x; sec = p.Next(sec) {
		pos += p.Count(sec)
	}
	first = s.acked + uint64(pos-int(s.headSkip)) + s.gapsBefore(x) + 1
	switch {
	case m.isGap(prev):
		// Grow the gap before x by x's records.
		n = uint32(p.Count(x))
		layout.PutGap(p.Sector(prev), m.gapOf(prev)+uint64(n))
		s.unlink(prev, x)
		s.absorbGap(prev)
	case next != pool.Nil && m.isGap(next):
		// x sits just before a gap: that gap takes its records.
		n = uint32(p.Count(x))
		layout.PutGap(p.Sector(next), m.gapOf(next)+uint64(n))
		s.unlink(prev, x)
	case next != pool.Nil:
		// A new gap: x stands for its own and next's records.
		n = uint32(p.Count(x) + p.Count(next))
		p.SetCount(x, 0)
		layout.PutGap(p.Sector(x), uint64(n))
		m.gapSecs++
		s.unlink(x, next)
		s.absorbGap(x)
	default:
		return 0, 0
	}
	s.unread -= n
	s.setReadCursor(s.seek(int(s.headSkip) + int(s.pending)))
	return n, first
}

// unlink takes sec, which follows prev, out of the chain and frees it.
func (s *Stream) unlink(prev, sec uint32) {
	m, p := s.m, s.m.pool
	if m.isGap(sec) {
		m.gapSecs--
	}
	p.SetNext(prev, p.Next(sec))
	if s.tail == sec {
		s.tail = prev
		s.tailUsed = 0
	}
	if s.readSec == sec {
		s.setReadCursor(cursor{sec: prev, idx: p.Count(prev)}) // callers set it again
	}
	p.Release(sec)
	m.frees++
}

// absorbGap merges a gap sector that follows gap sector g into g.
func (s *Stream) absorbGap(g uint32) {
	m := s.m
	if nxt := m.pool.Next(g); nxt != pool.Nil && m.isGap(nxt) {
		layout.PutGap(m.pool.Sector(g), m.gapOf(g)+m.gapOf(nxt))
		s.unlink(g, nxt)
	}
}

// ramTop is the number of the newest record of the RAM part (disk backend):
// acked, the RAM records and the gaps among them.
func (s *Stream) ramTop() uint64 {
	return s.acked + uint64(s.ramAvail()) + s.gapsBefore(pool.Nil)
}

// ramThrough counts the RAM records numbered up to through (disk backend)
// and returns the number of the last of them.
func (s *Stream) ramThrough(through uint64) (k int, last uint64) {
	ram := s.ramAvail()
	if s.m.gapSecs == 0 {
		k = int(min(uint64(ram), through-min(through, s.acked)))
		return k, s.acked + uint64(k)
	}
	c := s.seek(int(s.headSkip))
	seq, last := s.acked, s.acked
	for ; k < ram; k++ {
		probe := c
		if s.next(&probe, &seq); seq > through {
			break
		}
		c, last = probe, seq
	}
	return k, last
}

// appendGap ends the chain with a gap of n numbers (restoring a chain at
// Open); it reports false when no sector is free for it.
func (s *Stream) appendGap(n uint64) bool {
	m, p := s.m, s.m.pool
	if t := s.tail; t != pool.Nil && m.isGap(t) {
		layout.PutGap(p.Sector(t), m.gapOf(t)+n)
		return true
	}
	if s.tail == pool.Nil {
		s.acked += n // a gap at the head is folded into acked
		return true
	}
	id := p.Alloc()
	if id == pool.Nil {
		return false
	}
	m.allocs++
	m.gapSecs++
	layout.PutGap(p.Sector(id), n)
	p.SetNext(s.tail, id)
	s.tail, s.tailUsed = id, 0
	return true
}

// dropRange takes the RAM records numbered first..first+n-1 out of the
// chain while the journal is replayed at Open (nothing is pending then) and
// returns how many it took. The chain is rebuilt from its records: the
// restored chain's sectors need not match the ones the drop freed, so the
// drop is replayed by number, not by sector. Open-time only; it allocates.
func (s *Stream) dropRange(first uint64, n uint32) int {
	m, p := s.m, s.m.pool
	ram := s.ramAvail()
	if ram == 0 || n == 0 || s.pending != 0 {
		return 0
	}
	last := first + uint64(n) - 1
	recs := make([]Sample, 0, ram)
	c := s.seek(int(s.headSkip))
	seq := s.acked
	hit := 0
	for range ram {
		r := s.next(&c, &seq)
		if r.Seq >= first && r.Seq <= last {
			hit++
			continue
		}
		recs = append(recs, r)
	}
	if hit == 0 {
		return 0
	}
	top := s.ramTop()
	for id := s.head; id != pool.Nil; {
		nxt := p.Next(id)
		if m.isGap(id) {
			m.gapSecs--
		}
		p.Release(id)
		m.frees++
		id = nxt
	}
	s.head, s.tail, s.tailUsed, s.headSkip = pool.Nil, pool.Nil, 0, 0
	s.setReadCursor(cursor{})
	s.unread -= uint32(ram)
	at := s.acked
	for i, r := range recs {
		if r.Seq > at+1 && !s.appendGap(r.Seq-at-1) {
			s.countDrop(DropRAMFull, uint32(len(recs)-i)) // no sector for the gap: the rest goes
			break
		}
		if err := s.restoreRecord(r.Value, r.UTCms); err != nil {
			s.countDrop(DropRAMFull, uint32(len(recs)-i))
			break
		}
		at = r.Seq
	}
	if top > at {
		s.appendGap(top - at) // a tail sector of the pool taken: the numbers stay accounted
	}
	if s.head != pool.Nil {
		s.setReadCursor(s.seek(0))
	}
	return hit
}

// restoreRecord appends a record with its stored time to the RAM chain:
// TSD times are already derived and come back exactly.
func (s *Stream) restoreRecord(v uint32, utc int64) error {
	if s.kind == TSD {
		return s.appendTSD(v, utc, 0)
	}
	return s.appendEVT(v, utc)
}
