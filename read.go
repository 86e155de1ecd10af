package mm2

import "fmt"

// Read returns the oldest unread record and marks it pending. Errors:
// ErrClosed, ErrNoData.
func (s *Stream) Read() (Sample, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return Sample{}, err
	}
	defer m.mu.Unlock()
	if s.unread == 0 {
		return Sample{}, ErrNoData
	}
	c := s.readCursor()
	smp := s.next(&c, s.acked+uint64(s.pending)+1)
	s.setReadCursor(c)
	s.unread--
	s.pending++
	return smp, nil
}

// ReadBulk fills dst with the oldest unread records, marks them pending and
// returns how many it stored. It allocates nothing. Errors: ErrClosed,
// ErrNoData (nothing unread; dst untouched).
func (s *Stream) ReadBulk(dst []Sample) (int, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if s.unread == 0 {
		return 0, ErrNoData
	}
	n, c := s.fill(dst, s.readCursor())
	s.setReadCursor(c)
	s.unread -= uint32(n)
	s.pending += uint32(n)
	return n, nil
}

// fill decodes up to len(dst) unread records starting at c and returns how
// many and the cursor after them.
func (s *Stream) fill(dst []Sample, c cursor) (int, cursor) {
	n := min(len(dst), int(s.unread))
	seq := s.acked + uint64(s.pending)
	for i := range dst[:n] {
		seq++
		dst[i] = s.next(&c, seq)
	}
	return n, c
}

// Peek returns the i-th unread record (0 = the next Read) and changes
// nothing. Errors: ErrClosed, ErrInvalidArgument (i < 0), ErrNoData (fewer
// than i+1 unread records).
func (s *Stream) Peek(i int) (Sample, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return Sample{}, err
	}
	defer m.mu.Unlock()
	if i < 0 {
		return Sample{}, fmt.Errorf("%w: peek index %d", ErrInvalidArgument, i)
	}
	if i >= int(s.unread) {
		return Sample{}, ErrNoData
	}
	c := s.seek(int(s.headSkip) + int(s.pending) + i)
	return s.next(&c, s.acked+uint64(s.pending)+uint64(i)+1), nil
}

// PeekBulk fills dst with the oldest unread records without marking them.
// Errors: ErrClosed, ErrNoData.
func (s *Stream) PeekBulk(dst []Sample) (int, error) {
	m := s.m
	if err := m.lockOpen(); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if s.unread == 0 {
		return 0, ErrNoData
	}
	n, _ := s.fill(dst, s.readCursor())
	return n, nil
}
