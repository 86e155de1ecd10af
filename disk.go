package mm2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"syscall"
	"unsafe"

	"github.com/mm2go/mm2/internal/spool"
	"github.com/mm2go/mm2/internal/vfs"
)

// seqReserve is how far ahead of the newest sequence number a checkpoint
// reserves: after a crash numbering resumes above the reservation, so a
// number handed out before the crash is never reused. A stream reaching its
// reservation writes a checkpoint; at 100 Hz that is once every 3 hours.
const seqReserve = 1 << 20

// diskRetryMs is how long a disk in error is left alone before a retry.
const diskRetryMs = 1000

// diskTier is the disk backend: the segment log, per-stream disk cursors and
// the checkpoint. It is only touched under the manager's lock.
type diskTier struct {
	fs   vfs.FS
	dir  string
	log  *spool.Log
	st   []diskStream // by stream table index
	sync SyncPolicy

	gen     uint64
	lastCP  int64 // clock ms of the last checkpoint
	err     error // last disk error, nil when healthy
	retryAt int64

	frame []byte         // scratch: one encoded frame
	recs  []spool.Record // scratch: one decoded frame
	cp    []byte         // scratch: the checkpoint

	recovered, skippedRecords, skippedFrames, checkpoints uint64
	damage                                                []spool.Damage
}

// diskStream is a stream's disk-side state. A stream's unacknowledged
// records are its RAM chain (ram of them, the oldest) followed by its disk
// part (n of them: frames in the log, then the stage not yet written).
type diskStream struct {
	stage    spool.Builder
	ram      uint32
	n        uint32
	rd, ack  dpos // first unread and first unacknowledged record of the disk part
	lastSeq  uint64
	reserved uint64
}

// dpos is a disk cursor: the idx-th record of the stream counting from its
// first frame at or after pos, continuing through later frames and the stage.
type dpos struct {
	pos spool.Pos
	idx int
}

func (d *diskTier) stream(s *Stream) *diskStream {
	for int(s.idx) >= len(d.st) {
		d.st = append(d.st, diskStream{})
	}
	return &d.st[s.idx]
}

func (d *diskTier) memBytes() int {
	n := d.log.MemBytes() + cap(d.frame) + cap(d.cp) + 16*cap(d.recs)
	for i := range d.st {
		n += int(unsafe.Sizeof(diskStream{})) + cap(d.st[i].stage.Payload)
	}
	return n
}

// endPos is the position after everything in the log.
func (d *diskTier) endPos() spool.Pos {
	if a := d.log.Active(); a != nil {
		return spool.Pos{Seg: a.No, Off: a.Size}
	}
	if n := len(d.log.Segs); n > 0 {
		return spool.Pos{Seg: d.log.Segs[n-1].No + 1}
	}
	return spool.Pos{Seg: 1}
}

func (s *Stream) match() spool.Match {
	src, sensor := uint8(s.source), s.sensor
	return func(h spool.FrameHeader) bool { return h.Source == src && h.Sensor == sensor }
}

// frame is where a disk cursor resolves: a frame of the log, or the stage.
type frame struct {
	pos     spool.Pos
	h       spool.FrameHeader
	payload []byte
	idx     int
	stage   bool
}

// resolve finds the record a cursor names and normalises the cursor onto
// its frame.
func (d *diskTier) resolve(s *Stream, c *dpos) (frame, error) {
	match := s.match()
	for steps := 0; ; steps++ {
		p, h, payload, ok, err := d.log.Next(s.idx, match, c.pos)
		if err != nil {
			return frame{}, err
		}
		if !ok {
			st := &d.stream(s).stage
			return frame{h: st.H, payload: st.Payload, idx: c.idx, stage: true}, nil
		}
		if c.idx < int(h.Count) {
			c.pos = p
			return frame{pos: p, h: h, payload: payload, idx: c.idx}, nil
		}
		c.idx -= int(h.Count)
		c.pos = spool.Pos{Seg: p.Seg, Off: p.Off + int64(h.Size())}
	}
}

// records decodes a resolved frame.
func (d *diskTier) records(f frame) ([]spool.Record, error) {
	if cap(d.recs) < 0xffff/4 {
		d.recs = make([]spool.Record, 0, spool.MaxFramePayload/4+1)
	}
	return spool.FrameRecords(f.h, f.payload, d.recs)
}

// readDisk decodes up to len(dst) records of the disk part from cursor c
// (advancing it) and returns how many.
func (d *diskTier) readDisk(s *Stream, c *dpos, dst []Sample) (int, error) {
	n := 0
	for n < len(dst) {
		f, err := d.resolve(s, c)
		if err != nil {
			return n, err
		}
		recs, err := d.records(f)
		if err != nil {
			return n, err
		}
		if f.idx >= len(recs) {
			return n, fmt.Errorf("mm2: disk cursor of %v beyond its records", s.ID())
		}
		for _, r := range recs[f.idx:] {
			if n == len(dst) {
				break
			}
			dst[n] = Sample{Value: r.Value, UTCms: r.UTC, Seq: f.h.FirstSeq + uint64(f.idx)}
			n++
			f.idx++
			c.idx++
		}
	}
	return n, nil
}

// wantDisk decides where the next record of s goes: the disk part when it
// already holds records (FIFO), when RAM numbering would not continue, under
// SyncAlways, or when the pool is at the spill threshold and the record
// needs a new sector. A disk in error sends records back to RAM when FIFO
// allows.
func (m *Manager) wantDisk(s *Stream, needSector bool) bool {
	d := m.disk
	ds := d.stream(s)
	if ds.n > 0 || ds.lastSeq != s.acked+uint64(ds.ram) {
		return true
	}
	if d.err != nil && !d.retry(m.now()) {
		return false
	}
	if d.sync.mode == syncAlways {
		return true
	}
	return needSector && m.pool.Used()*100 >= m.opts.SpillPercent*m.pool.Len()
}

// retry reports whether a disk in error may be tried again now.
func (d *diskTier) retry(now int64) bool { return now >= d.retryAt }

func (d *diskTier) fail(now int64, err error) error {
	d.err = err
	d.retryAt = now + diskRetryMs
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: %v", ErrDiskFull, err)
	}
	return err
}

// appendDisk adds a record to the stream's disk part.
func (m *Manager) appendDisk(s *Stream, v uint32, utc int64) error {
	d := m.disk
	ds := d.stream(s)
	if s.pending+s.unread == maxStreamRecords {
		return ErrFull
	}
	if ds.n == 0 {
		ds.stage.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
		ds.rd = dpos{pos: d.endPos()}
		ds.ack = ds.rd
	}
	seq := ds.lastSeq + 1
	if !ds.stage.Add(seq, v, utc) {
		if err := m.flush(s); err != nil {
			return err
		}
		if !ds.stage.Add(seq, v, utc) {
			panic("mm2: a record does not fit an empty frame")
		}
	}
	ds.lastSeq = seq
	ds.n++
	s.unread++
	if err := m.noteSeq(s); err != nil {
		return err
	}
	if d.sync.mode == syncAlways {
		if err := m.flush(s); err != nil {
			return err
		}
		if err := d.log.Sync(); err != nil {
			return d.fail(m.now(), err)
		}
	}
	return nil
}

// flush writes the stream's stage as one frame, making room under the cap.
func (m *Manager) flush(s *Stream) error {
	d := m.disk
	ds := d.stream(s)
	if ds.stage.H.Count == 0 {
		return nil
	}
	d.frame = spool.AppendFrame(d.frame[:0], ds.stage.H, ds.stage.Payload)
	for len(d.log.Segs) > 1 && d.log.Total+int64(len(d.frame)) > m.opts.DiskCapBytes {
		if err := m.dropFrontSegment(); err != nil {
			return d.fail(m.now(), err)
		}
	}
	live := int(ds.stage.H.Count)
	if ack := ds.ack; true {
		if f, err := d.resolve(s, &ack); err == nil && f.stage {
			live -= f.idx
		}
	}
	if _, err := d.log.Append(d.frame, s.idx, live); err != nil {
		return d.fail(m.now(), err)
	}
	d.err = nil
	ds.stage.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
	return nil
}

// flushAll writes every stage.
func (m *Manager) flushAll(ctx context.Context) error {
	for i := 0; i < m.nStream; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.flush(m.at(uint16(i))); err != nil {
			return err
		}
	}
	return nil
}

// dropFrontSegment drops the oldest segment at the disk cap, counting every
// unacknowledged record in it as dropped for its stream.
func (m *Manager) dropFrontSegment() error {
	d := m.disk
	seg := d.log.Segs[0]
	b, err := d.log.Bytes(seg.No)
	if err != nil {
		return err
	}
	b = append([]byte(nil), b...) // resolve below reuses the segment cache
	for off := int64(spool.SegmentHeaderSize); off < int64(len(b)); {
		h, _, err := spool.DecodeFrame(b[off:])
		if err != nil {
			return &CorruptionError{File: spool.SegmentName(seg.No), Offset: off, Err: err}
		}
		here := spool.Pos{Seg: seg.No, Off: off}
		after := dpos{pos: spool.Pos{Seg: seg.No, Off: off + int64(h.Size())}}
		off += int64(h.Size())
		pos, found := m.search(StreamID{Source(h.Source), h.Sensor})
		if !found {
			continue
		}
		s := m.at(m.index[pos])
		ds := d.stream(s)
		fa, err := d.resolve(s, &ds.ack)
		if err != nil {
			return err
		}
		if fa.stage || here.Less(fa.pos) {
			continue // all acknowledged already
		}
		first := 0
		if fa.pos == here {
			first = fa.idx
		}
		dropped := int(h.Count) - first
		pending := 0
		if fr, err := d.resolve(s, &ds.rd); err != nil {
			return err
		} else if fr.stage || here.Less(fr.pos) {
			pending = dropped
		} else if fr.pos == here {
			pending = fr.idx - first
		}
		ds.n -= uint32(dropped)
		s.pending -= uint32(pending)
		s.unread -= uint32(dropped - pending)
		ds.ack = after
		if ds.rd.pos == here {
			ds.rd = after
		}
		s.countDrop(DropDiskCap, uint32(dropped))
		if m.log.Enabled(context.Background(), slog.LevelWarn) {
			m.log.Warn("mm2: disk cap reached, dropped oldest records", "stream", s.ID().String(),
				"records", dropped, "segment", seg.No)
		}
	}
	return d.log.RemoveFront()
}

// ackDisk acknowledges the first k records of the disk part.
func (m *Manager) ackDisk(s *Stream, k int) error {
	d := m.disk
	ds := d.stream(s)
	for k > 0 {
		f, err := d.resolve(s, &ds.ack)
		if err != nil {
			return err
		}
		avail := int(f.h.Count) - f.idx
		if f.stage {
			avail = k
		}
		take := min(k, avail)
		if !f.stage {
			if seg := d.log.Find(f.pos.Seg); seg != nil {
				seg.Live -= take
			}
		}
		s.acked = f.h.FirstSeq + uint64(f.idx+take) - 1
		ds.ack.idx += take
		ds.n -= uint32(take)
		k -= take
	}
	return m.retireSegments()
}

// retireSegments removes front segments holding no unacknowledged record.
func (m *Manager) retireSegments() error {
	d := m.disk
	for len(d.log.Segs) > 0 && d.log.Segs[0].Live == 0 && d.log.Active() != d.log.Segs[0] {
		if d.sync.mode == syncAlways {
			// Publish the acknowledgement durably before the data goes.
			if err := m.checkpoint(false); err != nil {
				return err
			}
		}
		if err := d.log.RemoveFront(); err != nil {
			return d.fail(m.now(), err)
		}
	}
	return nil
}

// noteSeq persists a new reservation when a stream's numbering reaches it.
func (m *Manager) noteSeq(s *Stream) error {
	if ds := m.disk.stream(s); ds.lastSeq >= ds.reserved {
		return m.checkpoint(false)
	}
	return nil
}

// maybeCheckpoint runs the SyncInterval checkpoint when it is due.
func (m *Manager) maybeCheckpoint() error {
	d := m.disk
	if d == nil || d.sync.mode != syncInterval {
		return nil
	}
	if now := m.now(); now-d.lastCP >= d.sync.interval.Milliseconds() {
		if err := m.flushAll(context.Background()); err != nil {
			return err
		}
		return m.checkpoint(false)
	}
	return nil
}

// checkpoint syncs the log and writes the state file: every stream's
// cursors and the RAM tier's unacknowledged records.
func (m *Manager) checkpoint(clean bool) error {
	d := m.disk
	if err := d.log.Sync(); err != nil {
		return d.fail(m.now(), err)
	}
	d.gen++
	c := spool.Checkpoint{Gen: d.gen, Clean: clean, Streams: make([]spool.StreamState, 0, m.nStream)}
	var frames []byte
	for i := 0; i < m.nStream; i++ {
		s := m.at(uint16(i))
		ds := d.stream(s)
		ds.reserved = ds.lastSeq + seqReserve
		c.Streams = append(c.Streams, spool.StreamState{
			Source: uint8(s.source), Kind: uint8(s.kind), Sensor: s.sensor, Period: s.periodMs,
			Acked: s.acked, LastSeq: ds.lastSeq, Reserved: ds.reserved,
		})
		frames = m.appendRAMFrames(frames, s)
	}
	c.Frames = frames
	d.cp = spool.AppendCheckpoint(d.cp[:0], &c)
	name := path.Join(d.dir, spool.CheckpointName)
	if err := spool.WriteFileAtomic(d.fs, name, d.cp, d.dir); err != nil {
		return d.fail(m.now(), err)
	}
	d.log.BytesWritten += uint64(len(d.cp))
	d.log.Syncs += 2
	d.checkpoints++
	d.lastCP = m.now()
	return nil
}

// appendRAMFrames encodes the stream's unacknowledged RAM records as frames.
func (m *Manager) appendRAMFrames(dst []byte, s *Stream) []byte {
	n := int(m.disk.stream(s).ram)
	if n == 0 {
		return dst
	}
	var b spool.Builder
	b.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
	c := s.seek(int(s.headSkip))
	for i := 0; i < n; i++ {
		smp := s.next(&c, s.acked+uint64(i)+1)
		if !b.Add(smp.Seq, smp.Value, smp.UTCms) {
			dst = spool.AppendFrame(dst, b.H, b.Payload)
			b.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
			b.Add(smp.Seq, smp.Value, smp.UTCms)
		}
	}
	return spool.AppendFrame(dst, b.H, b.Payload)
}

// ramAvail is how many unacknowledged records of s are in RAM.
func (s *Stream) ramAvail() int {
	if s.m.disk == nil {
		return int(s.pending) + int(s.unread)
	}
	return int(s.m.disk.stream(s).ram)
}

func errorsIsENOSPC(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// countFrames counts the frames (the disk tier's sectors) of the stream's
// unacknowledged disk part, the stage included.
func (d *diskTier) countFrames(s *Stream) int {
	ds := d.stream(s)
	if ds.n == 0 {
		return 0
	}
	c, frames := ds.ack, 0
	for left := int(ds.n); left > 0; frames++ {
		f, err := d.resolve(s, &c)
		if err != nil || f.stage {
			return frames + 1
		}
		left -= int(f.h.Count) - f.idx
		c = dpos{pos: spool.Pos{Seg: f.pos.Seg, Off: f.pos.Off + int64(f.h.Size())}}
	}
	return frames
}
