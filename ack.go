package mm2

import (
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
	return m.disk.ack(s)
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
		d.nack(s)
	}
	return int(n), nil
}
