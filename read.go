package mm2

import "fmt"

// Read returns the oldest unread record and marks it pending. Errors:
// ErrClosed, ErrNoData, a *CorruptionError or I/O error from the disk tier.
func (s *Stream) Read() (Sample, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return Sample{}, err
	}
	defer m.mu.Unlock()
	if err := m.beforeRead(s); err != nil {
		return Sample{}, err
	}
	var one [1]Sample
	if _, err := s.read(one[:], true); err != nil {
		return Sample{}, err
	}
	return one[0], nil
}

// ReadBulk fills dst with the oldest unread records, marks them pending and
// returns how many it stored. It allocates nothing. Errors: ErrClosed,
// ErrNoData (nothing unread; dst untouched), disk errors.
func (s *Stream) ReadBulk(dst []Sample) (int, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if err := m.beforeRead(s); err != nil {
		return 0, err
	}
	return s.read(dst, true)
}

// PeekBulk fills dst with the oldest unread records without marking them.
// Errors: ErrClosed, ErrNoData, disk errors.
func (s *Stream) PeekBulk(dst []Sample) (int, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if err := m.beforeRead(s); err != nil {
		return 0, err
	}
	return s.read(dst, false)
}

// read decodes up to len(dst) unread records: the RAM part first, then the
// disk part. With mark it moves the read cursors and marks them pending.
func (s *Stream) read(dst []Sample, mark bool) (int, error) {
	if s.unread == 0 {
		return 0, ErrNoData
	}
	want := min(len(dst), int(s.unread))
	ramLeft := max(0, s.ramAvail()-int(s.pending))
	n, c := s.fill(dst[:min(want, ramLeft)], s.readCursor())
	if n < want {
		// n is all of the RAM part left, so the disk part is next.
		k, err := s.m.disk.read(s, dst[n:want], mark)
		if err != nil {
			return 0, err
		}
		n += k
	}
	if mark {
		s.setReadCursor(c)
		s.unread -= uint32(n)
		s.pending += uint32(n)
	}
	return n, nil
}

// fill decodes the len(dst) RAM records starting at c and returns how many
// and the cursor after them.
func (s *Stream) fill(dst []Sample, c cursor) (int, cursor) {
	seq := s.seqBefore(c, int(s.pending))
	for i := range dst {
		dst[i] = s.next(&c, &seq)
	}
	return len(dst), c
}

// Peek returns the i-th unread record (0 = the next Read) and changes
// nothing. Errors: ErrClosed, ErrInvalidArgument (i < 0), ErrNoData (fewer
// than i+1 unread records), disk errors.
func (s *Stream) Peek(i int) (Sample, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return Sample{}, err
	}
	defer m.mu.Unlock()
	if err := m.beforeRead(s); err != nil {
		return Sample{}, err
	}
	if i < 0 {
		return Sample{}, fmt.Errorf("%w: peek index %d", ErrInvalidArgument, i)
	}
	if i >= int(s.unread) {
		return Sample{}, ErrNoData
	}
	at := int(s.pending) + i // position among the unacknowledged records
	if at < s.ramAvail() {
		c := s.seek(int(s.headSkip) + at)
		seq := s.seqBefore(c, at)
		return s.next(&c, &seq), nil
	}
	// The disk part's unread records start at its read cursor.
	return m.disk.peek(s, i-max(0, s.ramAvail()-int(s.pending)))
}

// beforeRead makes sure that a reader of s is handed no record whose
// number a power cut could give to another record (reserve.go), and under
// SyncAlways no record that is not durable yet: it syncs the journal first
// (see commit, which releases the lock while it syncs). Errors: ErrClosed
// if the manager was closed meanwhile.
func (m *Manager) beforeRead(s *Stream) error {
	if d := m.disk; d != nil {
		return d.beforeRead(s)
	}
	return nil
}
