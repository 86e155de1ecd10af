package mm2

import "fmt"

// Write is one sample of a batch written with Manager.WriteBatch: the
// stream it goes to, its value and its time in UTC milliseconds (for a TSD
// stream when it was sampled, for an EVT stream when the event happened).
type Write struct {
	Stream *Stream
	Value  uint32
	UTCms  int64
}

// WriteBatch stores the samples of ws in their order under one lock: what a
// gateway that gathers samples (one per signal of a bus cycle, or many of
// one signal) stores instead of one call per sample. A TSD sample is stored
// at its UTCms as WriteTSD stores one taken then: its stored time is its
// period slot's when UTCms is within half a period of it. Samples of
// several streams may be mixed in any order; each stream's are numbered in
// the order they come.
//
// Every sample is checked before anything is stored: a nil stream or one of
// another manager is ErrInvalidArgument, and nothing is written. Then the
// samples are stored in turn; an error part-way (ErrFull, ErrDiskFull,
// ErrNotDurable, ...) returns how many were stored before it, the rest
// untouched, like a single write's error would. The sync policy applies to
// the batch: under SyncAlways it is durable when WriteBatch returns, with
// one sync for all of it (ErrNotDurable with n = len(ws) when that sync
// fails: stored, not yet durable). Errors before anything is stored:
// ErrClosed, ErrPoweringDown, ErrUTCNotAvailable.
func (m *Manager) WriteBatch(ws []Write) (int, error) {
	for i := range ws {
		if s := ws[i].Stream; s == nil || s.m != m {
			return 0, fmt.Errorf("%w: batch sample %d has no stream of this manager", ErrInvalidArgument, i)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.writable(); err != nil {
		return 0, err
	}
	if m.disk == nil {
		for i := range ws {
			w := &ws[i]
			if err := w.Stream.appendAt(w.Value, w.UTCms); err != nil {
				return i, err
			}
		}
		return len(ws), nil
	}
	return m.disk.writeBatch(ws)
}

// appendAt appends one sample at utc to a stream of the RAM backend.
func (s *Stream) appendAt(v uint32, utc int64) error {
	if s.kind == TSD {
		return s.appendTSD(v, utc, int64(s.periodMs))
	}
	return s.appendEVT(v, utc)
}
