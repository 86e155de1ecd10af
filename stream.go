package mm2

import (
	"github.com/mm2go/mm2/internal/layout"
	"github.com/mm2go/mm2/internal/pool"
)

// Stream is the handle of one configured stream, returned by Configure. Its
// methods are the hot path: no map look-up, no allocation.
//
// A stream's state is four positions in its sequence, stored so that no
// impossible combination can be represented:
//
//	acked            last sequence number acknowledged or dropped
//	read    = acked + pending
//	written = read + unread
//
// pending and unread are unsigned counts, so "pending larger than the data"
// or a negative count has no encoding. The records live in a chain of RAM
// sectors head..tail; the first headSkip records of the head sector are
// already acknowledged (a sector is freed once all its records are), and the
// read cursor (readSec, readIdx, readOff) sits on the first unread record.
type Stream struct {
	m        *Manager
	acked    uint64
	sensor   uint32
	periodMs uint32
	head     uint32 // oldest sector, pool.Nil when the chain is empty
	tail     uint32 // sector being written
	readSec  uint32 // sector of the read cursor
	pending  uint32
	unread   uint32
	source   Source
	kind     Kind
	headSkip uint8 // acknowledged records still in the head sector
	readIdx  uint8 // record index of the read cursor in readSec
	readOff  uint8 // byte offset of the read cursor (EVT)
	tailUsed uint8 // bytes used in the tail sector (EVT)
	idx      uint16
	drops    [numDropReasons]uint32 // per reason; saturates (manager totals are 64-bit)
}

// ID is the stream's (source, sensor).
func (s *Stream) ID() StreamID { return StreamID{Source: s.source, Sensor: s.sensor} }

// Kind is TSD or EVT.
func (s *Stream) Kind() Kind { return s.kind }

// Counts returns the stream's record counts (RAM and disk together).
func (s *Stream) Counts() Counts {
	s.m.mu.Lock()
	c := s.counts()
	s.m.mu.Unlock()
	return c
}

func (s *Stream) counts() Counts {
	return Counts{New: int(s.unread), Pending: int(s.pending), Total: int(s.unread) + int(s.pending)}
}

// written is the sequence number of the newest record (0 before the first).
func (s *Stream) written() uint64 {
	return s.acked + uint64(s.pending) + uint64(s.unread) + s.gapsBefore(pool.Nil)
}

// cursor is a position in a stream's chain: a sector, a record index in it
// and, for EVT, the record's byte offset.
type cursor struct {
	sec uint32
	idx int
	off int
}

func (s *Stream) readCursor() cursor {
	return cursor{sec: s.readSec, idx: int(s.readIdx), off: int(s.readOff)}
}

func (s *Stream) setReadCursor(c cursor) {
	s.readSec, s.readIdx, s.readOff = c.sec, uint8(c.idx), uint8(c.off)
}

// next decodes the record under c, advances c past it and sets *seq to its
// sequence number: on entry *seq is the number of the record before c. The
// caller knows a record is there (it counted unread records); c is first
// moved off the end of a full sector onto the next one, so a cursor never
// points "nowhere", and past any gap sector, whose dropped numbers are
// counted when the cursor leaves it.
func (s *Stream) next(c *cursor, seq *uint64) Sample {
	p := s.m.pool
	for c.idx >= p.Count(c.sec) {
		if p.Count(c.sec) == 0 {
			*seq += layout.Gap(p.Sector(c.sec))
		}
		nxt := p.Next(c.sec)
		if nxt == pool.Nil {
			panic("mm2: read cursor ran off the chain of " + s.ID().String())
		}
		*c = cursor{sec: nxt, off: layout.HeaderSize}
	}
	*seq++
	sec := p.Sector(c.sec)
	var smp Sample
	if s.kind == TSD {
		var v uint32
		var utc int64
		if base, ok := layout.TSDPeriodicBase(sec); ok { // the common form, inlined
			v, utc = layout.TSDValue(sec, c.idx), base+int64(c.idx)*int64(s.periodMs)
		} else {
			v, utc = layout.TSDRecord(sec, c.idx, int64(s.periodMs))
		}
		smp = Sample{Value: v, UTCms: utc, Seq: *seq}
	} else {
		v, utc, nxt, err := layout.EVTDecode(sec, c.off)
		if err != nil {
			panic("mm2: undecodable EVT sector in " + s.ID().String())
		}
		smp = Sample{Value: v, UTCms: utc, Seq: *seq}
		c.off = nxt
	}
	c.idx++
	return smp
}

// sectorBase is the base timestamp (the time of the first record) of one of
// the stream's data sectors. A TSD sector's header word may also hold a
// step, so only layout.TSDHeader reads its base.
func (s *Stream) sectorBase(sec uint32) int64 {
	b := s.m.pool.Sector(sec)
	if s.kind == TSD {
		base, _, _ := layout.TSDHeader(b, int64(s.periodMs))
		return base
	}
	return layout.Base(b)
}

// seek returns a cursor on the record whose position from the head sector's
// first record is n (headSkip is the first unacknowledged one). Gap sectors
// hold no record: a cursor lands past them, except at the end of the chain.
func (s *Stream) seek(n int) cursor {
	p := s.m.pool
	c := cursor{sec: s.head, off: layout.HeaderSize}
	for steps := 0; n >= p.Count(c.sec); steps++ {
		if p.Next(c.sec) == pool.Nil || steps > p.Len() {
			break // the end of the last sector is a valid position
		}
		n -= p.Count(c.sec)
		c.sec = p.Next(c.sec)
	}
	c.idx = n
	if s.kind == EVT && n > 0 {
		off, err := layout.EVTOffset(p.Sector(c.sec), n)
		if err != nil {
			panic("mm2: undecodable EVT sector in " + s.ID().String())
		}
		c.off = off
	}
	return c
}
