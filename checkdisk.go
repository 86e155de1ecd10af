package mm2

import (
	"errors"
	"fmt"

	"github.com/mm2go/mm2/internal/spool"
)

// diskCheck is what Check needs of the disk tier, taken under the lock
// (captureDisk) so that the segments can be read and checked against it
// without the lock: a view of every segment and each stream's cursors and
// counts at one instant. A segment's bytes up to the size it had then do
// not change while it exists, so reading them later finds that instant's
// frames; a segment removed or cut since, or damage, sends Check back
// under the lock (checkDisk).
type diskCheck struct {
	segs      []spool.SegmentView
	ids       map[StreamID]int
	st        []streamDisk
	total     int64
	cap       int64
	liveStale bool   // a read error during an ACK left segment counts high
	cuts      uint64 // the log's Cuts when taken
}

// streamDisk is one stream's disk-side positions and counts.
type streamDisk struct {
	id              StreamID
	ack, rd         uint64 // first unacknowledged and first unread record of the disk part
	lastSeq         uint64
	stage           spool.FrameHeader
	n, frames       uint32
	pending, unread uint32
}

// captureDisk takes the disk tier's state for a check. Called with the lock.
func (d *diskTier) captureDisk() *diskCheck {
	m := d.m
	dc := &diskCheck{segs: d.log.Views(nil), ids: make(map[StreamID]int, m.nStream),
		st: make([]streamDisk, m.nStream), total: d.log.Stats().Bytes, cap: m.opts.DiskCapBytes, liveStale: d.liveStale,
		cuts: d.log.Cuts()}
	for i := range dc.st {
		dc.ids[m.at(uint16(i)).ID()] = i
		dc.counts(m, i)
	}
	return dc
}

// counts takes stream i's positions and counts.
func (dc *diskCheck) counts(m *Manager, i int) {
	s := m.at(uint16(i))
	ds := m.disk.stream(s)
	dc.st[i] = streamDisk{id: s.ID(), ack: ds.ack.seq, rd: ds.rd.seq, lastSeq: ds.lastSeq, stage: ds.stage.H,
		n: ds.n, frames: ds.frames, pending: s.pending, unread: s.unread}
}

// checkDisk verifies the disk tier in one pass over the log: every stream's
// disk part holds exactly the records its counts say (frames, then the
// stage), the read cursor sits where pending says, each segment's count of
// unacknowledged records is what it holds, and the log's size matches its
// segments and stays under the cap. It reads the segments without the
// lock; when that cannot give an answer (a segment retired or cut since
// dc was taken, damage), it checks again under the lock, where damage
// found is taken out of the counts as a read would (dropDamaged). A frame
// cut meanwhile (spool.Log.Cuts) may have been replaced by another at the
// same place: that too is checked again.
func (d *diskTier) checkDisk(dc *diskCheck) []error {
	m := d.m
	var buf []byte
	var frames []spool.FrameAt
	errs, ok := dc.walk(func(v spool.SegmentView) ([]spool.FrameAt, int, error) {
		var err error
		buf, frames, err = d.log.ReadFrames(v, buf, frames[:0])
		return frames, v.Unacked, err
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errs // what the walk found, if it could read everything
	}
	if ok && d.log.Cuts() == dc.cuts {
		return errs
	}
	dc = d.captureDisk()
	errs, _ = dc.walk(func(v spool.SegmentView) ([]spool.FrameAt, int, error) {
		frames, err := d.log.Frames(v.No, frames[:0])
		for tries := 0; err != nil && tries < 64; tries++ {
			var fe *spool.FrameError
			if !errors.As(err, &fe) || fe.Retry {
				break
			}
			if fe.Header != nil {
				d.dropDamaged(*fe.Header, fe.Pos)
			}
			frames, err = d.log.Frames(v.No, frames[:0])
		}
		live := v.Unacked
		if seg := d.log.Find(v.No); seg != nil {
			live = seg.Unacked()
		}
		return frames, live, err
	}, func() { // dropDamaged changed the counts
		for i := range dc.st {
			dc.counts(m, i)
		}
	})
	return errs
}

// walk tallies the frames of every segment against dc and judges the
// counts; frames gives a segment's frames and its count of unacknowledged
// records. With the lock not held (no refresh), any error of frames stops
// the walk with ok false; under the lock, an unreadable segment is
// reported and refresh takes the counts again before they are judged.
func (dc *diskCheck) walk(frames func(spool.SegmentView) ([]spool.FrameAt, int, error), refresh ...func()) (errs []error, ok bool) {
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	type tally struct {
		unacked, before, frames int
		last                    uint64 // newest seq seen in the log (duplicates count once)
	}
	t := make([]tally, len(dc.st))
	count := func(tl *tally, st *streamDisk, first, last uint64) int {
		lo := max(first, st.ack, tl.last+1)
		if last < lo {
			return 0
		}
		tl.before += int(min(last+1, max(st.rd, lo)) - lo)
		return int(last - lo + 1)
	}
	total := int64(0)
	for _, v := range dc.segs {
		total += v.Size
		fs, unacked, err := frames(v)
		if err != nil {
			if len(refresh) == 0 {
				return nil, false
			}
			bad("segment %d unreadable: %v", v.No, err)
			continue
		}
		live := 0
		for _, f := range fs {
			h := f.Header
			i, found := dc.ids[StreamID{Source(h.Source), h.Sensor}]
			if !found {
				continue
			}
			tl := &t[i]
			n := count(tl, &dc.st[i], h.FirstSeq, h.LastSeq())
			tl.unacked += n
			if n > 0 {
				tl.frames++
			}
			live += n
			tl.last = max(tl.last, h.LastSeq())
		}
		if live != unacked && (!dc.liveStale || unacked < live) {
			bad("segment %d: %d unacknowledged records, index says %d", v.No, live, unacked)
		}
	}
	for _, r := range refresh {
		r()
	}
	for i := range dc.st {
		st, tl := &dc.st[i], &t[i]
		if h := st.stage; h.Count > 0 {
			if h.FirstSeq <= tl.last {
				bad("%v: stage starts at seq %d, the log already holds %d", st.id, h.FirstSeq, tl.last)
			}
			tl.unacked += count(tl, st, h.FirstSeq, h.LastSeq())
			tl.last = h.LastSeq()
		}
		if tl.last > st.lastSeq {
			bad("%v: disk holds seq %d beyond the newest written %d", st.id, tl.last, st.lastSeq)
		}
		if tl.frames != int(st.frames) && (!dc.liveStale || tl.frames > int(st.frames)) {
			bad("%v: %d frames in the log hold unacknowledged records, counts say %d", st.id, tl.frames, st.frames)
		}
		if tl.unacked != int(st.n) {
			bad("%v: disk part holds %d unacknowledged records, counts say %d", st.id, tl.unacked, st.n)
		}
		ram := int(st.pending) + int(st.unread) - int(st.n) // the RAM part (ramAvail); check counts its records
		if ram < 0 {
			bad("%v: disk part of %d records > pending %d + unread %d", st.id, st.n, st.pending, st.unread)
		}
		if want := max(0, int(st.pending)-ram); tl.before != want {
			bad("%v: %d disk records before the read cursor, %d pending beyond RAM", st.id, tl.before, want)
		}
	}
	if total != dc.total {
		bad("disk: segments hold %d bytes, log counts %d", total, dc.total)
	}
	if dc.total > dc.cap {
		bad("disk: %d bytes over the cap of %d", dc.total, dc.cap)
	}
	return errs, true
}
