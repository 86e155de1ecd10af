package mm2

import (
	"context"
	"log/slog"

	"github.com/mm2go/mm2/internal/layout"
	"github.com/mm2go/mm2/internal/pool"
	"github.com/mm2go/mm2/internal/spool"
)

// A disk that fails while streams spill.
//
// A stream whose records go to disk fills a frame in memory (its stage)
// and writes it to a segment when full. If the disk fails before any of the
// stream's frames reached a segment, the stage is all its disk part: it is
// moved into the stream's RAM chain, after the RAM part it follows, and the
// stream goes on in RAM under the drop policy of R-12 until the disk works
// again, instead of refusing every write once the stage is full. A stream
// with records in segments keeps them there (FIFO) and its writes fail
// until the disk returns (docs/durability.md).

// stageToRAM moves s's stage into RAM when the disk failed to take it and
// the stage holds all of s's disk part; it reports whether it did. Room is
// made first, by the drop policy, for every sector the move needs, so the
// move itself never fails: s's own oldest records go first (its RAM part,
// then the oldest unsent records of the stage itself, which may be more
// than the pool holds), then the globally oldest. The move is journaled
// (jToRAM) and replayed.
func (d *diskTier) stageToRAM(s *Stream) bool {
	m := d.m
	ds := d.stream(s)
	h := ds.stage.H
	if d.err == nil || d.readOnly || d.replaying || m.opts.Overflow != DropOldest || ds.frames > 0 || h.Count == 0 || ds.n == 0 {
		return false
	}
	first := max(h.FirstSeq, ds.ack.seq)
	if first > h.LastSeq() || uint64(ds.n) != h.LastSeq()-first+1 {
		return false // some of the disk part is in segments
	}
	recs, err := spool.FrameRecords(h, ds.stage.Payload, d.moveRecs[:0])
	if err != nil {
		return false
	}
	d.moveRecs = recs
	recs = recs[first-h.FirstSeq:]
	for m.pool.Free() < s.sectorsToMove(recs, first) {
		if !s.dropOne(DropRAMFull) {
			break
		}
	}
	// Then the oldest of the stage, unless some of it is pending (a batch
	// reaching into it): those would be dropped behind a batch in flight.
	if int(s.pending) <= s.ramAvail() {
		k := 0
		for k < len(recs)-1 && m.pool.Free() < s.sectorsToMove(recs[k:], first+uint64(k)) {
			k++
		}
		if k > 0 {
			s.dropStageFront(first, uint32(k))
			first += uint64(k)
			recs = recs[k:]
		}
	}
	for m.pool.Free() < s.sectorsToMove(recs, first) {
		if !m.dropOldest(s) {
			return false
		}
	}
	d.jput(d.entry(jToRAM, s))
	return s.moveStage()
}

// dropStageFront drops the n oldest records of s's stage, numbered from
// first on (none of them pending), as drop-oldest drops: counted, journaled
// by number range, replayed off the front of the disk part.
func (s *Stream) dropStageFront(first uint64, n uint32) {
	m := s.m
	empty := s.ramAvail() == 0
	last := first + uint64(n) - 1
	k := s.advanceDisk(last, empty)
	if empty {
		s.acked = max(s.acked, last)
	}
	s.unread -= uint32(k)
	s.countDrop(DropRAMFull, uint32(k))
	m.disk.jDropRange(s, first, uint32(k), DropRAMFull)
	if m.log.Enabled(context.Background(), slog.LevelWarn) {
		m.log.Warn("mm2: dropped unsent records", "stream", s.ID().String(), "records", k,
			"reason", DropRAMFull.String(), "first_seq", first, "last_seq", last)
	}
}

// moveStage appends the live records of s's stage to its RAM chain and
// empties the stage (live and at replay). It reports false, moving nothing,
// when the stage holds records in segments too or the pool cannot take it.
func (s *Stream) moveStage() bool {
	m := s.m
	d := m.disk
	ds := d.stream(s)
	h := ds.stage.H
	first := max(h.FirstSeq, ds.ack.seq)
	if h.Count == 0 || first > h.LastSeq() || uint64(ds.n) != h.LastSeq()-first+1 {
		return false
	}
	recs, err := spool.FrameRecords(h, ds.stage.Payload, d.moveRecs[:0])
	if err != nil {
		return false
	}
	d.moveRecs = recs
	recs = recs[first-h.FirstSeq:]
	if top := s.ramTop(); first > top+1 && !s.appendGap(first-top-1) {
		return false
	}
	n := uint32(len(recs))
	ds.stage.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
	ds.n = 0
	s.unread -= n // each append below counts its record again
	ds.rd = dpos{pos: d.endPos(), seq: ds.lastSeq + 1}
	ds.ack = ds.rd
	for i, r := range recs {
		if err := s.restoreRecord(r.Value, r.UTC); err != nil {
			// The pool cannot take the rest (replayed over a pool packed
			// otherwise): they are dropped, counted, their numbers a gap.
			rest := n - uint32(i)
			s.countDrop(DropRAMFull, rest)
			s.appendGap(uint64(rest))
			break
		}
	}
	if top := s.ramTop(); ds.lastSeq > top {
		// Numbers handed out past the stage (a jump at Open) stay
		// skipped: RAM numbering continues after the newest. Without a
		// sector for the gap, the stream's next record goes to disk
		// (wantDisk), numbered right.
		for !s.appendGap(ds.lastSeq - top) {
			if !m.dropOldest(s) {
				break
			}
		}
	}
	if s.pending > 0 {
		s.setReadCursor(s.seek(int(s.headSkip) + min(int(s.pending), s.ramAvail())))
	}
	return true
}

// sectorsToMove is how many free sectors moving recs, numbered from first,
// to the end of s's RAM chain takes: a gap sector when numbers lie between
// the RAM part and them, and what appending them takes.
func (s *Stream) sectorsToMove(recs []spool.Record, first uint64) int {
	n := s.sectorsToAppend(recs)
	if s.head != pool.Nil && first > s.ramTop()+1 && !s.m.isGap(s.tail) {
		n++
	}
	if len(recs) > 0 && s.m.disk.stream(s).lastSeq > first+uint64(len(recs))-1 {
		n++ // a gap after them: numbers handed out past the stage
	}
	return n
}

// sectorsToAppend is how many new sectors appending recs (with their
// stored times) to s's RAM chain takes: a dry run on a copy of the tail.
func (s *Stream) sectorsToAppend(recs []spool.Record) int {
	p := s.m.pool
	var scratch [MaxSectorSize]byte
	sec := scratch[:p.SectorSize()]
	c, used := 0, 0
	if t := s.dataTail(); t != pool.Nil {
		copy(sec, p.Sector(t))
		c, used = p.Count(t), int(s.tailUsed)
	}
	period := int64(s.periodMs)
	need := 0
	for _, r := range recs {
		if s.kind == EVT {
			n, ok := layout.EVTAppend(sec, used, r.Value, r.UTC)
			if c == 0 || !ok {
				need++
				n, _ = layout.EVTAppend(sec, 0, r.Value, r.UTC)
			}
			c, used = c+1, n
			continue
		}
		if c > 0 && (layout.TSDAppendPeriodic(sec, c, period, 0, r.Value, r.UTC) || layout.TSDAppend(sec, c, period, 0, r.Value, r.UTC)) {
			c++
			continue
		}
		fast := c > 0 && layout.TSDOpensFast(sec, c, period, r.UTC)
		layout.TSDStart(sec, r.UTC, r.Value, fast)
		c = 1
		need++
	}
	return need
}
