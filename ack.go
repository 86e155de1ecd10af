package mm2

import (
	"fmt"

	"github.com/mm2go/mm2/internal/layout"
	"github.com/mm2go/mm2/internal/pool"
)

// Ack erases exactly the stream's pending records, frees every sector that
// becomes empty and returns how many it erased. Errors: ErrClosed, ErrNoData
// (nothing pending; nothing changes).
func (s *Stream) Ack() (int, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if s.pending == 0 {
		return 0, ErrNoData
	}
	n := int(s.pending)
	if m.disk == nil {
		s.acked = s.readSeq() // past any gap inside the batch
		s.pending = 0
		s.freeAcked(int(s.headSkip) + n)
		return n, nil
	}
	d := m.disk
	if err := m.waitJournalRoom(); err != nil {
		return 0, err
	}
	if s.pending == 0 { // acknowledged by another caller meanwhile
		return 0, ErrNoData
	}
	n = int(s.pending)
	ds := d.stream(s)
	through := s.readSeq() // when every pending record is in RAM
	if n > s.ramAvail() {
		through = ds.rd.seq - 1 // the last pending record of the disk part
	}
	if k, ram := s.ackThrough(through); k < n {
		// Frames that could not be read (a bad block met now): their
		// records are the rest of the batch, acknowledged by number.
		ds.n -= min(uint32(n-k), ds.n)
		ds.ack.seq = max(ds.ack.seq, through+1)
		ds.rd = ds.ack
		d.liveStale = true // the segments' live counts and the frame count are left high
		if ram == 0 {
			s.acked = max(s.acked, through)
		}
	}
	s.pending = 0
	m.jThrough(jAck, s, through, 0)
	var err error
	if d.sync.mode == syncAlways {
		err = m.commit() // the ACK is durable before its data goes
	}
	if err == nil {
		// A failed removal is a disk state; the segment goes at a later ACK.
		_ = m.retireSegments()
		err = m.maintain()
	}
	if err != nil && d.sync.mode == syncAlways {
		return n, fmt.Errorf("%w: %w", ErrNotDurable, err)
	}
	return n, nil // a disk error is a state (Stats) for the other policies
}

// freeAcked releases the head sectors wholly covered by the first skip
// records of the chain and keeps the remainder as headSkip. acked is the
// number of the last of them; a gap sector that then reaches the head
// follows it, and its numbers are folded into acked ("acknowledged or
// dropped"), so the head is always a data sector.
func (s *Stream) freeAcked(skip int) {
	m, p := s.m, s.m.pool
	freed := false
	for s.head != pool.Nil && skip >= p.Count(s.head) {
		h := s.head
		if m.isGap(h) {
			if skip == 0 {
				s.acked += m.gapOf(h)
			}
			m.gapSecs--
		}
		skip -= p.Count(h)
		s.head = p.Next(h)
		if s.readSec == h {
			s.setReadCursor(cursor{sec: s.head, off: layout.HeaderSize})
		}
		p.Release(h)
		m.frees++
		freed = true
	}
	if s.head == pool.Nil {
		s.tail = pool.Nil
		s.tailUsed = 0
		s.setReadCursor(cursor{})
	}
	s.headSkip = uint8(skip)
	if freed {
		m.noteUtilisation()
	}
}

// Nack makes the pending records unread again: the next reads return them
// in the same order with the same sequence numbers. It returns how many.
// Errors: ErrClosed, ErrNoData (nothing pending; nothing changes).
func (s *Stream) Nack() (int, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if s.pending == 0 {
		return 0, ErrNoData
	}
	n := s.pending
	s.unread += n
	s.pending = 0
	s.setReadCursor(s.seek(int(s.headSkip)))
	if d := m.disk; d != nil {
		ds := d.stream(s)
		ds.rd = ds.ack
	}
	return int(n), nil
}
