package mm2

import (
	"context"
	"log/slog"
	"math"

	"github.com/mm2go/mm2/internal/layout"
	"github.com/mm2go/mm2/internal/pool"
)

// maxStreamRecords bounds a stream's stored records: counts are 32-bit.
const maxStreamRecords = math.MaxUint32

// WriteTSD appends a sample stamped with the clock. When the clock is more
// than half a period away from the sample's derived slot (a gap, a late or
// early sample) the stream starts a new sector, so every derived timestamp is
// within ±period/2 of the real write time; but a sector's second sample
// written less than half a period after the first (less than a period
// while the stream is seen to run fast) sets the sector's own step to that
// interval, so samples written faster than the period still fill sectors
// (docs/format.md). Errors: ErrClosed, ErrPoweringDown,
// ErrUTCNotAvailable, ErrKindMismatch, ErrFull.
func (s *Stream) WriteTSD(value uint32) error {
	m := s.m
	m.mu.Lock()
	err := m.writable()
	if err == nil {
		if s.kind != TSD {
			err = ErrKindMismatch
		} else if d := m.disk; d != nil {
			err = d.write(s, value, m.now())
		} else {
			err = s.appendTSD(value, m.now(), int64(s.periodMs))
		}
	}
	m.mu.Unlock()
	return err
}

// WriteEVT appends an event with its own timestamp (any int64, 0 included).
// Errors: ErrClosed, ErrPoweringDown, ErrUTCNotAvailable, ErrKindMismatch, ErrFull.
func (s *Stream) WriteEVT(value uint32, utcMs int64) error {
	m := s.m
	m.mu.Lock()
	err := m.writable()
	if err == nil {
		if s.kind != EVT {
			err = ErrKindMismatch
		} else if d := m.disk; d != nil {
			err = d.write(s, value, utcMs)
		} else {
			err = s.appendEVT(value, utcMs)
		}
	}
	m.mu.Unlock()
	return err
}

// WriteEventWithGPS writes the event stamped with the clock and, when the
// stream's source has a GPS configuration, the fix's four values to the
// configured sensors with the identical timestamp. On the mock backend it
// writes all five or none. On the disk backend the five are written in
// turn; an error part-way (a disk error, or ErrFull when the disk is
// failing and the RAM pool it falls back to refuses under RejectNew) leaves
// the ones before it stored (counted, readable, with their sequence
// numbers) and returns the error.
// Errors: as WriteEVT.
func (s *Stream) WriteEventWithGPS(value uint32, fix GPSFix) error {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.writable(); err != nil {
		return err
	}
	if s.kind != EVT {
		return ErrKindMismatch
	}
	now := m.now()
	if m.gpsSet&(1<<s.source) == 0 {
		if d := m.disk; d != nil {
			return d.write(s, value, now)
		}
		return s.appendEVT(value, now)
	}
	var targets [5]*Stream
	targets[0] = s
	for i, sensor := range m.gps[s.source].sensors() {
		pos, found := m.search(StreamID{s.source, sensor})
		if !found {
			panic("mm2: GPS stream vanished: " + StreamID{s.source, sensor}.String())
		}
		targets[i+1] = m.at(m.index[pos])
	}
	vals := [5]uint32{value, math.Float32bits(fix.Latitude), math.Float32bits(fix.Longitude),
		math.Float32bits(fix.Altitude), math.Float32bits(fix.Speed)}
	if d := m.disk; d != nil {
		return d.writeGroup(targets[:], vals[:], now)
	}
	if err := m.reserve(s, targets[:], now); err != nil {
		return err
	}
	for i, t := range targets {
		if err := t.appendEVT(vals[i], now); err != nil {
			return err
		}
	}
	return nil
}

// reserve makes room for one event per entry of targets (a stream may be
// named more than once) so that a group write stores all or nothing.
func (m *Manager) reserve(writer *Stream, targets []*Stream, utc int64) error {
	for {
		need := 0
		for i, t := range targets {
			k, seen := 0, false
			for j, u := range targets {
				seen = seen || (u == t && j < i)
				if u == t {
					k++
				}
			}
			if seen {
				continue
			}
			if uint64(t.pending)+uint64(t.unread)+uint64(k) > maxStreamRecords {
				return ErrFull
			}
			need += t.sectorsForEvents(k, utc)
		}
		if m.pool.Free() >= need {
			return nil
		}
		if m.opts.Overflow == RejectNew || !m.dropOldest(writer) {
			m.allocFails++
			m.rejected++
			return ErrFull
		}
	}
}

// sectorsForEvents is how many new sectors k events at utc would take.
func (s *Stream) sectorsForEvents(k int, utc int64) int {
	size := s.m.pool.SectorSize()
	var scratch [MaxSectorSize]byte
	sec, used, need := scratch[:size], 0, 0
	open := s.dataTail() != pool.Nil
	if open {
		copy(sec, s.m.pool.Sector(s.tail))
		used = int(s.tailUsed)
	}
	for ; k > 0; k-- {
		n, ok := layout.EVTAppend(sec, used, 0, utc)
		if !open || !ok {
			need++
			open = true
			n, _ = layout.EVTAppend(sec, 0, 0, utc)
		}
		used = n
	}
	return need
}

func (m *Manager) writable() error {
	switch {
	case m.closed:
		return ErrClosed
	case m.powering:
		return ErrPoweringDown
	case !m.utcOK:
		return ErrUTCNotAvailable
	}
	return nil
}

// appendTSD appends a TSD value at time now. The tail sector takes it when
// now is within tol/2 of its next derived slot, or when it is the sector's
// second sample and came early: the sector then takes the interval as its
// own step (layout.TSDAppend). A new sector opened while the stream runs
// faster than its period is marked so that its second sample sets the step
// even when less than a period early (layout.TSDOpensFast). tol is the
// period for live samples and 0 when restoring already-derived
// timestamps, which must come back exactly.
func (s *Stream) appendTSD(v uint32, now int64, tol int64) error {
	p := s.m.pool
	if s.pending+s.unread == maxStreamRecords {
		return ErrFull
	}
	fast := false
	if t := s.dataTail(); t != pool.Nil {
		sec, c, period := p.Sector(t), p.Count(t), int64(s.periodMs)
		if layout.TSDAppendPeriodic(sec, c, period, tol, v, now) || layout.TSDAppend(sec, c, period, tol, v, now) {
			p.SetCount(t, c+1)
			s.unread++
			return nil
		}
		fast = layout.TSDOpensFast(sec, c, period, now)
	}
	id, err := s.m.allocFor(s)
	if err != nil {
		return err
	}
	layout.TSDStart(p.Sector(id), now, v, fast)
	p.SetCount(id, 1)
	s.unread++
	return nil
}

func (s *Stream) appendEVT(v uint32, utc int64) error {
	p := s.m.pool
	if s.pending+s.unread == maxStreamRecords {
		return ErrFull
	}
	if t := s.dataTail(); t != pool.Nil {
		if used, ok := layout.EVTAppend(p.Sector(t), int(s.tailUsed), v, utc); ok {
			s.tailUsed = uint8(used)
			p.SetCount(t, p.Count(t)+1)
			s.unread++
			return nil
		}
	}
	id, err := s.m.allocFor(s)
	if err != nil {
		return err
	}
	used, ok := layout.EVTAppend(p.Sector(id), 0, v, utc)
	if !ok {
		panic("mm2: event does not fit an empty sector")
	}
	s.tailUsed = uint8(used)
	p.SetCount(id, 1)
	s.unread++
	return nil
}

// allocFor takes a free sector and links it at the tail of s, dropping the
// oldest unsent sector when the pool is full and the policy allows it.
func (m *Manager) allocFor(s *Stream) (uint32, error) {
	id := m.pool.Alloc()
	if id == pool.Nil {
		if m.opts.Overflow == RejectNew || !m.dropOldest(s) {
			m.allocFails++
			m.rejected++
			return pool.Nil, ErrFull
		}
		id = m.pool.Alloc()
	}
	m.allocs++
	if s.tail == pool.Nil {
		s.head = id
		s.setReadCursor(cursor{sec: id, off: layout.HeaderSize})
	} else {
		m.pool.SetNext(s.tail, id)
	}
	s.tail = id
	s.tailUsed = 0
	m.noteUtilisation()
	return id, nil
}

// dropOldest frees one sector holding no pending record: the writing
// stream's own oldest first, then the globally oldest by base timestamp. A
// stream with a batch in flight gives the oldest sector behind it (see
// gap.go). It reports false when no sector can be freed: everything stored
// is pending, or all that is left behind each batch is one partial sector.
func (m *Manager) dropOldest(writer *Stream) bool {
	if writer.dropOne(DropRAMFull) {
		return true
	}
	victim := (*Stream)(nil)
	var oldest int64
	for _, x := range m.index {
		s := m.at(x)
		sec := s.dropCandidate()
		if sec == pool.Nil {
			continue
		}
		if b := s.sectorBase(sec); victim == nil || b < oldest {
			victim, oldest = s, b
		}
	}
	return victim != nil && victim.dropOne(DropRAMFull)
}

// dropCandidate is the sector dropOne would drop first, or pool.Nil.
func (s *Stream) dropCandidate() uint32 {
	switch {
	case s.head == pool.Nil:
		return pool.Nil
	case s.pending == 0:
		return s.head
	}
	return s.behindCandidate()
}

// dropOne drops the stream's oldest unsent sector and frees a sector, or
// reports false.
func (s *Stream) dropOne(reason DropReason) bool {
	switch {
	case s.head == pool.Nil:
		return false
	case s.pending == 0:
		s.dropHead(reason)
		return true
	}
	n, first := s.dropBehind()
	if n == 0 {
		return false
	}
	s.noteDrop(reason, n, first)
	return true
}

// dropHead discards the unread records of the head sector (nothing is
// pending) and frees it, with a gap sector that then reaches the head.
func (s *Stream) dropHead(reason DropReason) {
	p := s.m.pool
	h := s.head
	n := uint32(p.Count(h) - int(s.headSkip))
	first := s.acked + 1
	s.unread -= n
	s.acked += uint64(n)
	s.freeAcked(p.Count(h))
	s.setReadCursor(s.seek(int(s.headSkip)))
	if s.head == pool.Nil {
		s.setReadCursor(cursor{})
	}
	s.noteDrop(reason, n, first)
}

// noteDrop journals, counts and logs n records dropped from first on.
func (s *Stream) noteDrop(reason DropReason, n uint32, first uint64) {
	m := s.m
	if d := m.disk; d != nil {
		d.noteDrop(s, first, n, reason)
	}
	s.countDrop(reason, n)
	if m.log.Enabled(context.Background(), slog.LevelWarn) {
		m.log.Warn("mm2: dropped unsent records", "stream", s.ID().String(), "records", n,
			"reason", reason.String(), "first_seq", first, "last_seq", first+uint64(n)-1)
	}
	m.noteUtilisation()
}

func (s *Stream) countDrop(reason DropReason, n uint32) {
	if d := &s.drops[reason]; *d > math.MaxUint32-n {
		*d = math.MaxUint32
	} else {
		*d += n
	}
	s.m.drops.add(reason, uint64(n))
}

// noteUtilisation logs each crossing of a 10 % step of pool use.
func (m *Manager) noteUtilisation() {
	step := m.pool.Used() * 10 / m.pool.Len()
	if step == m.utilStep {
		return
	}
	m.utilStep = step
	if m.log.Enabled(context.Background(), slog.LevelInfo) {
		m.log.Info("mm2: pool utilisation", "percent", step*10, "used", m.pool.Used(), "total", m.pool.Len())
	}
}

// tailTakes reports whether the stream's RAM tail sector can take a record
// at utc without a new sector.
func (s *Stream) tailTakes(utc int64) bool {
	p := s.m.pool
	t := s.dataTail()
	if t == pool.Nil {
		return false
	}
	if s.kind == EVT {
		return layout.EVTFits(p.Sector(t), int(s.tailUsed), utc)
	}
	return layout.TSDFits(p.Sector(t), p.Count(t), int64(s.periodMs), int64(s.periodMs), utc)
}

// ramJournalForm is how the journal records the RAM record just appended at
// utc: implicit (its time is the previous record's plus the period, which
// replay derives) when it went into a periodic slot of the tail sector,
// otherwise with its stored time, which for a TSD sample in a stepped
// sector is its derived time, not utc.
func (s *Stream) ramJournalForm(slot bool, utc int64) (implicit bool, at int64) {
	if s.kind != TSD {
		return false, utc
	}
	p := s.m.pool
	base, step, _ := layout.TSDHeader(p.Sector(s.tail), int64(s.periodMs))
	return slot && step == int64(s.periodMs), base + int64(p.Count(s.tail)-1)*step
}
