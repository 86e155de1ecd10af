package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

func (md *Model) always() bool { return md.Opts.Sync == mm2.SyncAlways() }

// diskError reports an error the disk tier may return when the disk is
// full or failing (only while the model injects faults).
func (md *Model) diskError(err error) bool {
	return md.Opts.Dir != "" && (errors.Is(err, mm2.ErrDiskFull) || errors.Is(err, mm2.ErrNotDurable) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO))
}

// store appends a written record to the stream's model.
func (md *Model) store(s *MStream, r Rec) {
	s.Recs = append(s.Recs, r)
	if md.Opts.Dir != "" {
		if s.History == nil {
			s.History = map[uint64]Rec{}
		}
		s.History[r.Seq] = r
	}
}

// FillDisk makes the disk full (space 0) or gives the space back. With
// frees, removing a file gives its space back (the store then makes room
// by dropping its oldest segment); without, it does not.
func (md *Model) FillDisk(full, frees bool) {
	md.Fault.FreeOnRemove(frees)
	if full {
		md.Fault.SetSpace(0)
	} else {
		md.Fault.SetSpace(-1)
	}
}

// IOErrors makes every write to the store's files fail with EIO, or stops it.
func (md *Model) IOErrors(on bool) {
	if on {
		md.Failing = true
		md.Fault.FailIf(func(op vfs.Op, _ string) bool { return op == vfs.OpWrite || op == vfs.OpSync })
	} else {
		md.Fault.FailIf(nil)
	}
}

// Reopen closes the manager cleanly and opens the store again: every
// unacknowledged record must be back, pending ones unread, numbering
// continuing.
func (md *Model) Reopen() error {
	md.FillDisk(false, false)
	md.IOErrors(false)
	if err := md.M.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return md.reopen(md.Fault, true)
}

// Crash cuts the power without a power-down: the store is what the
// filesystem holds after a crash in mode, and the manager reopens on it.
// Under SyncAlways (or right after a clean power-down) everything
// acknowledged-as-written is back and nothing acknowledged; otherwise what
// comes back must be records that were written, in order, unaltered.
func (md *Model) Crash(mode vfs.CrashMode, rng *rand.Rand) error {
	md.Crashes++
	md.Mem = md.Mem.CrashClone(mode, rng)
	md.Fault = vfs.NewFaultFS(md.Mem)
	strict := !md.Dirty
	return md.reopen(md.Fault, strict)
}

func (md *Model) reopen(fsys vfs.FS, strict bool) error {
	md.Reopens++
	m, err := mm2.OpenFS(md.Opts, fsys)
	if err != nil {
		return fmt.Errorf("reopen (strict=%v): Open failed: %v", strict, err)
	}
	md.M, md.Powering = m, false
	md.UTC = !m.Profile().NeedUTC
	for _, s := range md.Streams {
		if s.H, err = m.Configure(s.ID, s.Kind, periodOf(s)); err != nil {
			return fmt.Errorf("reopen: configure %v: %v", s.ID, err)
		}
		if err := md.adopt(s, strict); err != nil {
			return err
		}
	}
	for src, cfg := range md.GPS {
		if err := m.SetGPS(src, cfg); err != nil {
			return fmt.Errorf("reopen: SetGPS: %v", err)
		}
	}
	md.Dirty, md.Failing = false, false
	return md.Check()
}

// adopt compares what the reopened manager holds for s with the model.
func (md *Model) adopt(s *MStream, strict bool) error {
	got := make([]mm2.Sample, len(s.Recs)+len(s.History)+1)
	n, err := s.H.PeekBulk(got)
	if err != nil && !errors.Is(err, mm2.ErrNoData) {
		return fmt.Errorf("reopen: PeekBulk %v: %v", s.ID, err)
	}
	got = got[:n]
	st := s.H.Stats()
	if strict {
		if len(got) != len(s.Recs) {
			return fmt.Errorf("reopen %v: %d records back, model holds %d", s.ID, len(got), len(s.Recs))
		}
		for i, r := range s.Recs {
			if err := md.Compare(s, got[i], r, "reopen"); err != nil {
				return err
			}
		}
		if st.Written < s.Seq {
			return fmt.Errorf("reopen %v: numbering at %d, below the newest written %d", s.ID, st.Written, s.Seq)
		}
	} else {
		recs := make([]Rec, 0, n)
		last := uint64(0)
		for _, smp := range got {
			r, ok := s.History[smp.Seq]
			if !ok || smp.Seq <= last {
				return fmt.Errorf("reopen %v: record %+v was never written or is out of order", s.ID, smp)
			}
			if err := md.Compare(s, smp, r, "recovered"); err != nil {
				return err
			}
			last = smp.Seq
			recs = append(recs, r)
		}
		s.Recs = recs
		// A number no reader saw may go to another record: the power cut
		// destroyed its record before anything of it was durable.
		if st.Written < s.Seen {
			return fmt.Errorf("reopen %v after a crash: numbering at %d may reuse numbers up to %d, which a reader saw", s.ID, st.Written, s.Seen)
		}
		for seq := range s.History {
			if seq > st.Written {
				delete(s.History, seq)
			}
		}
	}
	s.Pending = 0
	s.Seq = st.Written
	s.Drops = st.Drops.RAMFull
	s.CapDrops = st.Drops.DiskCap
	return nil
}

func periodOf(s *MStream) time.Duration { return time.Duration(s.Period) * time.Millisecond }
