package mm2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"unsafe"

	"github.com/mm2go/mm2/internal/journal"
	"github.com/mm2go/mm2/internal/spool"
	"github.com/mm2go/mm2/vfs"
)

// diskRetryMs is how long a disk in error is left alone before a retry.
const diskRetryMs = 1000

// diskTier is the disk backend: the segment log, per-stream disk cursors and
// the checkpoint. It is only touched under the manager's lock.
type diskTier struct {
	m      *Manager // the host: its lock, clock, pool and streams
	fs     vfs.FS
	dir    string
	log    *spool.Log
	st     []diskStream // by stream table index
	policy SyncPolicy

	gen      uint64
	clean    bool // the durable checkpoint says clean: mark it running before any write
	readOnly bool // opened for inspection: nothing on disk may change

	slots   *spool.Slots // the checkpoint files
	lastCP  int64        // clock ms of the last checkpoint
	err     error        // last disk error, nil when healthy
	retryAt int64

	jr           *journal.Journal // nil: read-only, or the journal could not be mapped
	boot         string           // this boot's ID ("" when unknown)
	replaying    bool             // Open is applying the journal: journal nothing
	opening      bool             // Open is recovering: streams keep their stored numbers
	broken       bool             // the epoch's journal is full and no checkpoint could be written
	noMap        bool             // the filesystem cannot map files: no journal
	sinceCP      uint64           // records written since the last checkpoint
	newBase      uint64           // the number before a new stream's first (see newStreamBase)
	syncFailed   bool             // the last sync of the journal failed (SyncAlways refuses writes until one succeeds)
	jbuf         [32]byte         // scratch: one journal entry
	jpend        []byte           // record entries a WriteBatch gathers for one group entry (jgroup)
	jmulti       []byte           // scratch: the group entry
	syncing      bool             // a group commit is syncing the journal outside the lock
	cpWaiting    bool             // a checkpoint waits for that sync to end: no new one starts
	synced       *sync.Cond       // broadcast when a group commit ends
	lastSync     int64            // clock ms of the last interval sync
	jsize        int              // bytes of each journal file
	jcap         uint64           // record entries a journal file holds at most
	epoch        uint64           // the journal epoch being written
	durableEpoch uint64           // the journal epoch the last durable checkpoint's changes begin in
	cpBusy       bool             // a checkpoint is being written outside the lock
	moveRecs     []spool.Record   // scratch of stageToRAM
	cpStarted    uint64           // checkpoints whose snapshot was taken since Open
	cpDurable    uint64           // which of them is the newest durable one (0: none)
	dropFutile   bool             // dropping a segment on a full disk gave no room (flushOrDropOldest)
	cpAsync      []byte           // scratch: that checkpoint's bytes
	tail         journalRange     // the previous epoch's unsynced end (endEpoch)
	snap         snapCopy         // what the checkpoint being encoded copied under the lock
	liveStale    bool             // a read error during an ACK left segment live counts high

	frame []byte         // scratch: one encoded frame
	recs  []spool.Record // scratch: one decoded frame
	cp    []byte         // scratch: the checkpoint

	recovered, skippedRecords, skippedFrames, checkpoints uint64
	damage                                                []spool.Damage
}

// diskStream is a stream's disk-side state. A stream's unacknowledged
// records (pending + unread, on the stream) are its RAM chain, the oldest,
// followed by its disk part: n of them, frames in the log, then the stage
// not yet written. The RAM count is what the disk part leaves (ramAvail).
type diskStream struct {
	stage    spool.Builder
	n        uint32
	rd, ack  dpos // first unread and first unacknowledged record of the disk part
	lastSeq  uint64
	reserved uint64 // at Open: the checkpoint's reservation, raised by the journal's (reserve.go)
	epochSeq uint64 // lastSeq when the journal's epoch began (or the stream's base)
	frames   uint32 // frames in the log holding unacknowledged records of the stream
	lim      uint64 // readers are shown numbers up to lim only (reserve.go)
	bumping  uint64 // a raise of lim journaled and being synced (reserve.go)
	snapSeq  uint64 // lastSeq at the last snapshot: the stream's pace
}

// dpos is a disk cursor: the stream's first record with a sequence number
// at or above seq, found by scanning its frames from pos (a hint at or
// before the record's frame) and then the stage. Naming a record by its
// sequence number keeps the cursor right when segments before it are
// retired or dropped, and across gaps.
type dpos struct {
	pos spool.Pos
	seq uint64
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
func (d *diskTier) endPos() spool.Pos { return d.log.End() }

// frame is where a disk cursor resolves: a frame of the log, or the stage.
type frame struct {
	pos     spool.Pos
	h       spool.FrameHeader
	payload []byte
	idx     int
	stage   bool
}

// resolve finds the record a cursor names and moves the cursor's hint onto
// its frame. For the stage, idx may equal the stage's count (no record yet).
func (d *diskTier) resolve(s *Stream, c *dpos) (frame, error) {
	p, h, payload, ok, err := d.log.Next(s.idx, spool.Match{Source: uint8(s.source), Sensor: s.sensor, MinSeq: c.seq}, c.pos)
	// Damage found now (a bad block, a flipped bit) is skipped and counted,
	// as at Open: one bad frame never blocks its stream. The log
	// reports each damaged place once and steps over it from then on.
	for tries := 0; err != nil && tries < 64; tries++ {
		var fe *spool.FrameError
		if !errors.As(err, &fe) || fe.Retry {
			break // a read error that may pass: the caller fails now, a later call retries
		}
		if fe.Header != nil {
			d.dropDamaged(*fe.Header, fe.Pos)
		}
		p, h, payload, ok, err = d.log.Next(s.idx, spool.Match{Source: uint8(s.source), Sensor: s.sensor, MinSeq: c.seq}, c.pos)
	}
	if err != nil {
		return frame{}, err
	}
	if ok {
		c.pos = p
		c.seq = max(c.seq, h.FirstSeq)
		return frame{pos: p, h: h, payload: payload, idx: int(c.seq - h.FirstSeq)}, nil
	}
	st := &d.stream(s).stage
	f := frame{h: st.H, payload: st.Payload, stage: true}
	if st.H.Count > 0 {
		c.seq = max(c.seq, st.H.FirstSeq)
		f.idx = int(min(c.seq-st.H.FirstSeq, uint64(st.H.Count)))
	}
	return f, nil
}

// skip moves c past k records.
func (d *diskTier) skip(s *Stream, c *dpos, k int) error {
	for k > 0 {
		f, err := d.resolve(s, c)
		if err != nil {
			return err
		}
		take := min(k, int(f.h.Count)-f.idx)
		if take <= 0 {
			return fmt.Errorf("mm2: disk cursor of %v beyond its records", s.ID())
		}
		c.seq = f.h.FirstSeq + uint64(f.idx+take)
		k -= take
	}
	return nil
}

// records decodes a resolved frame into the tier's reused buffer, which holds
// the largest frame (MaxFramePayload/4 TSD records; events take 5 bytes or more).
func (d *diskTier) records(f frame) ([]spool.Record, error) {
	if d.recs == nil {
		d.recs = make([]spool.Record, 0, spool.MaxFramePayload/4)
	}
	recs, err := spool.FrameRecords(f.h, f.payload, d.recs)
	d.recs = recs[:0]
	return recs, err
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
			c.seq = f.h.FirstSeq + uint64(f.idx)
		}
	}
	return n, nil
}

// wantDisk decides where the next record of s goes: the disk part when it
// already holds records (FIFO), when RAM numbering would not continue, under
// SyncAlways, or when the pool is at the spill threshold and the record
// needs a new sector. A disk in error sends records back to RAM when FIFO
// allows.
func (d *diskTier) wantDisk(s *Stream, needSector bool) bool {
	m := d.m
	ds := d.stream(s)
	if ds.n > 0 || ds.lastSeq != s.ramTop() {
		return true
	}
	if d.err != nil && (!d.retry(m.now()) || !d.probeDisk()) {
		return false
	}
	if d.policy.mode == syncAlways {
		return true
	}
	return needSector && m.pool.Used()*100 >= m.opts.SpillPercent*m.pool.Len()
}

// probeDisk tries a disk in error again (once a retry interval) before a
// record of a stream with nothing on disk is sent there: such a record would
// tie its stream to the disk until the disk recovers (FIFO), where RAM and
// its drop policy keep taking its writes meanwhile. A stage waiting
// to be written is the probe, else a checkpoint. It reports whether the
// disk works again; a failure sets the next retry time.
func (d *diskTier) probeDisk() bool {
	m := d.m
	for i := 0; i < m.nStream; i++ {
		if s := m.at(uint16(i)); d.stream(s).stage.H.Count > 0 {
			if d.flush(s) != nil {
				return false
			}
			if d.err == nil { // written (a stage all acknowledged is dropped unwritten)
				return true
			}
		}
	}
	if d.checkpoint(false) != nil {
		return false
	}
	d.err = nil
	return true
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
func (d *diskTier) appendDisk(s *Stream, v uint32, utc int64, grouped bool) error {
	ds := d.stream(s)
	if s.pending+s.unread == maxStreamRecords {
		return ErrFull
	}
	seq := ds.lastSeq + 1
	h := &ds.stage.H
	count0, first0, step0, last0 := h.Count, h.FirstSeq, h.Step, h.LastTS
	if err := d.stageRecord(s, seq, v, utc, false); err != nil {
		return err
	}
	s.unread++
	// A TSD record in the next slot of a frame that already had its step
	// (two records) and holds an unacknowledged record before it is
	// journaled without its time (jDiskTSD): replay finds that record in
	// the frame, which every checkpoint since it was written kept.
	slot := s.kind == TSD && count0 >= 2 && h.Count == count0+1 && h.FirstSeq == first0 &&
		h.Step == step0 && h.LastTS == last0+step0 && seq-1 >= ds.ack.seq
	d.jRecord(s, false, slot, v, h.LastTS, grouped)
	return nil
}

// stageRecord adds record seq to the stream's stage, writing the stage out
// first when the record does not continue it. exact keeps TSD times as
// given (replay and restore).
func (d *diskTier) stageRecord(s *Stream, seq uint64, v uint32, utc int64, exact bool) error {
	ds := d.stream(s)
	if ds.n == 0 {
		ds.rd = dpos{pos: d.endPos(), seq: seq}
		ds.ack = ds.rd
	}
	if ds.stage.H.Count == 0 {
		ds.stage.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
	}
	add := ds.stage.Add
	if exact {
		add = ds.stage.AddExact
	}
	if !add(seq, v, utc) {
		if err := d.flushOrDropOldest(s, exact); err != nil {
			return err
		}
		if !add(seq, v, utc) {
			panic("mm2: a record does not fit an empty frame")
		}
	}
	ds.lastSeq = max(ds.lastSeq, seq)
	ds.n++
	return nil
}

// restoreDisk puts a record of the disk part back at Open (from the
// checkpoint's stages or the journal).
func (d *diskTier) restoreDisk(s *Stream, seq uint64, v uint32, utc int64) bool {
	if d.stageRecord(s, seq, v, utc, true) != nil {
		return false
	}
	s.unread++
	return true
}

// flush writes the stream's stage as one frame, making room under the cap.
// A stage whose records are all acknowledged already is dropped unwritten.
func (d *diskTier) flush(s *Stream) error {
	m := d.m
	ds := d.stream(s)
	h := ds.stage.H
	if h.Count == 0 {
		return nil
	}
	live := int(h.Count) - int(min(uint64(h.Count), max(ds.ack.seq, h.FirstSeq)-h.FirstSeq))
	if live == 0 {
		ds.stage.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
		return nil
	}
	d.frame = spool.AppendFrame(d.frame[:0], h, ds.stage.Payload)
	for !d.opening && d.log.Len() > 1 && d.log.Size()+int64(len(d.frame)) > m.opts.DiskCapBytes { // Open enforces the cap once it is done
		if err := d.dropFrontSegment(); err != nil {
			return d.fail(m.now(), err)
		}
	}
	if _, err := d.log.Append(d.frame, s.idx, live); err != nil {
		return d.fail(m.now(), err)
	}
	d.err, d.dropFutile = nil, false
	ds.frames++
	ds.stage.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
	return nil
}

// flushOrDropOldest writes the stream's stage for a write that needs room
// in it. A full filesystem is then a lower cap: the oldest segment is
// dropped, counted as the cap counts it (Drops.DiskCap), and the frame
// written, so a stream whose records are on disk goes on taking writes; the
// condition stays in Stats until a frame is written without it. Only a
// write does this (restoring at Open does not, nor do PowerDown, Close and
// checkpoints, which keep a stage that cannot be written in the
// checkpoint).
func (d *diskTier) flushOrDropOldest(s *Stream, restoring bool) error {
	m := d.m
	err := d.flush(s)
	var full error
	for err != nil && errorsIsENOSPC(d.err) && !d.dropFutile && !restoring && !d.opening && d.log.Len() > 1 {
		full = d.err
		if derr := d.dropFrontSegment(); derr != nil {
			return d.fail(m.now(), derr)
		}
		if err = d.flush(s); err != nil && errorsIsENOSPC(d.err) {
			// Removing a segment gave no room (another holder of the
			// space): nothing more is dropped until a frame is written.
			d.dropFutile = true
		}
	}
	if err == nil && full != nil {
		_ = d.fail(m.now(), full)
	}
	return err
}

// flushAllBestEffort writes every stage it can; one that fails stays in
// its stage (and so in the checkpoint) and the others go on.
func (d *diskTier) flushAllBestEffort() {
	m := d.m
	for i := 0; i < m.nStream; i++ {
		_ = d.flush(m.at(uint16(i)))
	}
}

// dropFrontSegment drops the oldest segment at the disk cap, counting every
// unacknowledged record in it as dropped for its stream.
func (d *diskTier) dropFrontSegment() error {
	m := d.m
	seg := d.log.Front()
	var frames []spool.FrameAt
	for {
		var err error
		frames, err = d.log.Frames(seg.No, frames)
		var fe *spool.FrameError
		if err == nil || !errors.As(err, &fe) || fe.Retry {
			if err != nil {
				return err
			}
			break
		}
		// A damaged frame found now: it goes with the segment, counted.
		if h := fe.Header; h != nil {
			d.dropDamaged(*h, fe.Pos)
		}
	}
	for _, f := range frames {
		h := f.Header
		pos, found := m.search(StreamID{Source(h.Source), h.Sensor})
		if !found {
			continue
		}
		s := m.at(m.index[pos])
		ds := d.stream(s)
		if h.LastSeq() < ds.ack.seq {
			continue // all acknowledged already
		}
		first := max(h.FirstSeq, ds.ack.seq)
		dropped := int(h.LastSeq() - first + 1)
		pending := 0
		if ds.rd.seq > first {
			pending = int(min(h.LastSeq()+1, ds.rd.seq) - first)
		}
		ds.n -= uint32(dropped)
		s.pending -= uint32(pending)
		s.unread -= uint32(dropped - pending)
		if ds.frames > 0 {
			ds.frames--
		}
		ds.ack = dpos{pos: spool.Pos{Seg: seg.No, Off: f.Pos.Off + int64(h.Size())}, seq: h.LastSeq() + 1}
		if ds.rd.seq <= h.LastSeq() {
			ds.rd = ds.ack
		}
		s.countDrop(DropDiskCap, uint32(dropped))
		d.jDropRange(s, first, uint32(dropped), DropDiskCap)
		if m.log.Enabled(context.Background(), slog.LevelWarn) {
			m.log.Warn("mm2: disk cap reached, dropped oldest records", "stream", s.ID().String(),
				"records", dropped, "segment", seg.No)
		}
	}
	if d.policy.mode == syncAlways && d.jr != nil && !d.replaying {
		// The drop is durable before its data goes (rare: at the cap).
		if err := d.syncJournal(); err != nil {
			return err
		}
	}
	if err := d.log.RemoveFront(); err != nil {
		return err
	}
	// The removal is made durable by the next checkpoint, which syncs the
	// directory before its slot (R-30: no fsync under the lock here). A
	// segment file that a power cut brings back before that holds records
	// its streams dropped: the checkpoint before the drop still counts them
	// as live, or the journal replays the drop and Open retires the file
	// before its own checkpoint could take them for live ones.
	return nil
}

// ackThrough acknowledges every record of the stream numbered up to
// through, RAM part first, and returns how many and how many RAM records
// remain; the caller takes them off pending or unread. The disk cursor is moved by sequence number, so a read
// error part-way (the per-segment live counts are then left high, and the
// segment is kept until the cap drops it) never strands or misnumbers
// records; the error is kept as the disk state.
func (s *Stream) ackThrough(through uint64) (n, ram int) {
	m := s.m
	d := m.disk
	ds := d.stream(s)
	ram = s.ramAvail()
	if s.acked < through && ram > 0 {
		k, last := s.ramThrough(through)
		s.acked = last
		s.freeAcked(int(s.headSkip) + k)
		ram -= k
		n += k
	}
	n += s.advanceDisk(through, true)
	if ram == 0 {
		// Records up to through that are gone already (a segment retired
		// before a crash, replayed at Open) are acknowledged all the same.
		s.acked = max(s.acked, through)
		if ds.n > 0 {
			s.acked = min(s.acked, ds.ack.seq-1)
		} else {
			s.acked = max(s.acked, ds.lastSeq) // empty: RAM numbering continues from the newest
		}
	}
	if ds.rd.seq < ds.ack.seq {
		ds.rd = ds.ack
	}
	return n, ram
}

// advanceDisk takes the records numbered up to through off the front of
// the stream's disk part and returns how many; acked follows them when
// setAcked (the RAM part, which comes first, is empty).
func (s *Stream) advanceDisk(through uint64, setAcked bool) int {
	m := s.m
	d := m.disk
	ds := d.stream(s)
	n := 0
	for ds.n > 0 {
		f, err := d.resolve(s, &ds.ack)
		if err != nil {
			// Count by sequence number alone: the records from the cursor
			// to through are the next ones of the disk part.
			k := int(min(uint64(ds.n), through+1-min(through+1, ds.ack.seq)))
			ds.n -= uint32(k)
			n += k
			ds.ack.seq = max(ds.ack.seq, through+1)
			d.liveStale = true
			_ = d.fail(m.now(), err)
			break
		}
		first := f.h.FirstSeq + uint64(f.idx)
		if f.idx >= int(f.h.Count) || first > through {
			break
		}
		take := int(min(uint64(int(f.h.Count)-f.idx), through-first+1))
		if !f.stage {
			if seg := d.log.Find(f.pos.Seg); seg != nil {
				seg.AddLive(-take)
			}
			if f.idx+take == int(f.h.Count) && ds.frames > 0 {
				ds.frames--
			}
		}
		ds.ack.seq = first + uint64(take)
		if setAcked {
			s.acked = ds.ack.seq - 1
		}
		ds.n -= uint32(take)
		n += take
	}
	return n
}

// retireSegments removes every segment, wherever it sits, that holds no
// unacknowledged record: acknowledged data never pins disk space behind a
// stalled stream's few records.
func (d *diskTier) retireSegments() error {
	m := d.m
	if err := d.log.RetireAcked(); err != nil {
		return d.fail(m.now(), err)
	}
	return nil
}

// maintain is the disk tier's work after a change: keepRoom, then under
// SyncAlways and SyncInterval the journal's sync when it is due.
func (d *diskTier) maintain() error {
	if err := d.keepRoom(); err != nil {
		return err
	}
	return d.syncDue()
}

// keepRoom starts a checkpoint when the journal is half full, so that it
// never fills in the middle of a change, and in the degraded states (no
// journal, a journal that could not go on) writes the checkpoints that stand
// for it.
func (d *diskTier) keepRoom() error {
	m := d.m
	if d.readOnly {
		return nil
	}
	switch {
	case d.jr != nil && !d.broken:
		if d.jr.UsedOver(50) && !d.cpBusy {
			d.checkpointAsync()
			if m.closed {
				return ErrClosed
			}
		}
	case d.jr == nil && d.noMap:
		// A filesystem that cannot map files: durable at the policy's
		// checkpoints (commit writes one), and at least every half a
		// journal's capacity of records, which bounds how far numbering
		// must jump after a crash.
		if d.sinceCP > d.jcap/2 {
			return d.checkpoint(false)
		}
	case d.err == nil || d.retry(m.now()):
		// The journal could not go on (a full or failing disk): a
		// checkpoint, retried at most once a retry interval, restarts it.
		return d.checkpoint(false)
	}
	return nil
}

// syncDue makes the journal durable when the sync policy says so: after
// every change under SyncAlways, once an interval under SyncInterval.
func (d *diskTier) syncDue() error {
	m := d.m
	if d.readOnly {
		return nil
	}
	switch d.policy.mode {
	case syncAlways:
		return d.commit()
	case syncInterval:
		if now := m.now(); now-d.lastSync >= d.policy.interval.Milliseconds() {
			d.lastSync = now
			return d.commit()
		}
	}
	return nil
}

// commit makes every journal entry made so far durable (msync). Callers
// that arrive while another commit is syncing wait for it and share the
// next one (group commit); the sync itself runs without the manager's
// lock, so writers of other streams go on meanwhile. It is called with
// the lock held and returns with it held. A store without a journal writes
// a checkpoint instead. An idle store writes nothing.
func (d *diskTier) commit() error {
	m := d.m
	d.jflush()
	if d.jr == nil {
		return d.checkpoint(false)
	}
	e, _, to := d.jr.Pending()
	if d.syncFailed && d.jr.Covers(e, to) {
		// Nothing is waiting, but the disk failed last time: try it.
		if err := d.jr.SyncRange(e, 0, journal.HeaderSize); err != nil {
			return d.fail(m.now(), err)
		}
		d.syncFailed = false
	}
	for d.jr != nil && !d.jr.Covers(e, to) && !m.closed {
		if d.syncing || d.cpWaiting {
			d.synced.Wait()
			continue
		}
		e2, from, to2 := d.jr.Pending()
		tail := d.tail
		d.syncing = true
		jr := d.jr
		m.mu.Unlock()
		var err error
		if tail.set {
			err = jr.SyncRange(tail.epoch, tail.from, tail.to)
		}
		if err == nil {
			err = jr.SyncRange(e2, from, to2)
		}
		m.mu.Lock()
		d.syncing = false
		d.synced.Broadcast()
		if err != nil {
			d.syncFailed = true
			return d.fail(m.now(), err)
		}
		d.syncFailed = false
		if tail.set && d.tail == tail {
			d.tail = journalRange{}
		}
		d.log.AddIO(0, 1)
		if d.jr != nil {
			d.jr.Synced(e2, to2)
		}
	}
	return nil
}

// checkpoint writes the state file and syncs it with the log, under the
// lock: every stream's cursors, the RAM tier's unacknowledged records, the
// disk tier's frames being filled and where the log ends. The journal then
// starts a new epoch: the old one is in the checkpoint. A checkpoint being
// written outside the lock (checkpointAsync) is waited for first.
func (d *diskTier) checkpoint(clean bool) error {
	m := d.m
	// A journal file is started over below: not while a group commit
	// syncs it (the previous epoch's tail may be in that file).
	for d.cpBusy || d.syncing {
		d.cpWaiting = d.syncing
		d.synced.Wait()
	}
	if d.cpWaiting {
		d.cpWaiting = false
		d.synced.Broadcast()
	}
	d.jflush() // before the snapshot and the journal's position are taken
	if err := d.log.Sync(); err != nil {
		return d.fail(m.now(), err)
	}
	// A failed attempt leaves its slot torn; the next attempt must go to the
	// same slot, never over the other one, which holds the last good checkpoint.
	c := d.snapshot(clean)
	c.JournalEpoch, c.JournalOff = d.epoch+1, journal.HeaderSize
	d.cp = d.encodeSnapshot(d.cp[:0], &c)
	n, syncs, err := d.slots.Write(int(c.Gen%2), d.cp)
	d.log.AddIO(n, syncs)
	if err != nil {
		return d.fail(m.now(), err)
	}
	d.cpStarted++
	d.checkpointed(c, clean, m.now(), d.cpStarted)
	for i := 0; i < m.nStream; i++ {
		ds := d.stream(m.at(uint16(i)))
		ds.epochSeq = ds.lastSeq
	}
	d.endEpoch()
	if err := d.startJournal(c.JournalEpoch); err != nil {
		if errors.Is(err, vfs.ErrNoMapping) {
			d.noMap = true
		} else {
			return d.fail(m.now(), err)
		}
	}
	return nil
}

// checkpointAsync starts a checkpoint whose bytes a goroutine of its own
// writes and syncs without the lock (finishCheckpoint), so no caller waits
// for it, the one that triggered it included (Stats().CheckpointsStarted
// counts it now, DurableCheckpoint names it once it is durable; the
// segments it syncs are marked synced only if nothing was written to them
// after it started, see spool.Log.SyncedClosed). The snapshot (cursors,
// and copies of the pool and of the frames being filled) is taken under the
// lock and encoded by the goroutine (snapshot.go), and the journal switches to a new epoch at that instant
// when the last durable checkpoint no longer needs the other file
// (otherwise the checkpoint names the journal position where its changes
// begin). A failure is a disk state; the changes stay in the journal.
// Called with the lock held; returns with it held. Close and the
// synchronous checkpoint wait for one in flight.
func (d *diskTier) checkpointAsync() {
	m := d.m
	d.jflush() // before the journal's position is taken
	c := d.snapshot(false)
	if d.durableEpoch == d.epoch && !d.syncing { // a sync outside the lock may be on the other file
		c.JournalEpoch, c.JournalOff = d.epoch+1, journal.HeaderSize
		d.endEpoch()
		if err := d.startJournal(c.JournalEpoch); err != nil {
			_ = d.fail(m.now(), err)
			return
		}
		for i := 0; i < m.nStream; i++ {
			ds := d.stream(m.at(uint16(i)))
			ds.epochSeq = ds.lastSeq
		}
	} else {
		c.JournalEpoch, c.JournalOff = d.epoch, uint64(d.jr.Off())
	}
	unsynced, mark := d.log.Unsynced()
	d.cpBusy = true
	d.cpStarted++
	go d.finishCheckpoint(c, unsynced, mark, m.now(), d.cpStarted)
}

// finishCheckpoint writes and syncs an asynchronous checkpoint's bytes
// without the lock, then records the result under it. Called and
// returning without the lock.
// now is the clock when it started: the user's clock is called only from
// the goroutines that call the manager.
func (d *diskTier) finishCheckpoint(c spool.Checkpoint, unsynced []uint64, mark uint64, now int64, ord uint64) {
	m := d.m
	buf := d.encodeSnapshot(d.cpAsync[:0], &c)
	d.cpAsync = buf
	var err error
	for _, no := range unsynced {
		if err = d.log.SyncSegment(no); err != nil {
			break
		}
	}
	if err == nil {
		err = d.fs.SyncDir(d.dir) // segments created since the last sync
	}
	n, syncs := 0, len(unsynced)+1
	if err == nil {
		var k int
		n, k, err = d.slots.Write(int(c.Gen%2), buf)
		syncs += k
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d.cpBusy = false
	d.synced.Broadcast()
	d.log.AddIO(n, syncs)
	if err != nil {
		_ = d.fail(now, err)
		return
	}
	d.log.SyncedClosed(unsynced, mark)
	d.checkpointed(c, false, now, ord)
}

// checkpointed records that checkpoint c is durable.
func (d *diskTier) checkpointed(c spool.Checkpoint, clean bool, now int64, ord uint64) {
	d.cpDurable = ord
	d.reserved(&c)
	d.gen = c.Gen
	d.durableEpoch = c.JournalEpoch
	d.clean = clean
	d.checkpoints++
	d.lastCP = now
	d.sinceCP = 0
}

// startJournal begins journal epoch e, mapping the journal first if that
// failed before (a full disk at Open).
func (d *diskTier) startJournal(e uint64) error {
	d.epoch = e
	if d.readOnly || d.noMap {
		return nil
	}
	if d.jr == nil {
		j, err := journal.Open(d.fs, d.dir, d.jsize)
		if err != nil {
			return err
		}
		d.jr = j
	}
	d.broken = false
	flags := uint8(0)
	if d.policy.mode == syncAlways {
		flags = journal.FlagDurable
	}
	d.jr.Start(e, d.boot, flags)
	return nil
}

// ramAvail is how many unacknowledged records of s are in RAM: all of them
// but the disk part. Code that moves records between the tiers, or takes
// them off the counts, changes pending or unread together with the disk
// part's n, so this holds between any two statements that read it.
func (s *Stream) ramAvail() int {
	n := int(s.pending) + int(s.unread)
	if d := s.m.disk; d != nil {
		n -= int(d.stream(s).n)
	}
	return n
}

func errorsIsENOSPC(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// dropDamaged takes the unacknowledged records of a frame found damaged
// while running out of its stream's counts, as corrupt drops: pending ones
// from pending, the rest from unread. Cursors name records by number, so
// they step over the gap by themselves.
func (d *diskTier) dropDamaged(h spool.FrameHeader, at spool.Pos) {
	m := d.m
	pos, found := m.search(StreamID{Source(h.Source), h.Sensor})
	if !found {
		return
	}
	s := m.at(m.index[pos])
	ds := d.stream(s)
	lo := max(h.FirstSeq, ds.ack.seq)
	if lo > h.LastSeq() || ds.n == 0 {
		return
	}
	n := min(uint32(h.LastSeq()-lo+1), ds.n)
	pending := uint32(0)
	if ds.rd.seq > lo {
		pending = min(uint32(min(h.LastSeq()+1, ds.rd.seq)-lo), n, s.pending)
	}
	ds.n -= n
	s.pending -= pending
	s.unread -= min(n-pending, s.unread)
	if ds.frames > 0 {
		ds.frames--
	}
	if seg := d.log.Find(at.Seg); seg != nil {
		seg.AddLive(-int(n))
	}
	s.countDrop(DropCorrupt, n)
	if m.log.Enabled(context.Background(), slog.LevelWarn) {
		m.log.Warn("mm2: damaged frame skipped", "stream", s.ID().String(), "records", n,
			"segment", at.Seg, "offset", at.Off)
	}
}

// endEpoch ends the journal's epoch with its end mark before the journal
// switches to the next one, and remembers the epoch's unsynced tail: the
// next sync makes it durable first, so a synced entry of the next epoch is
// never replayable without the mark that lets recovery reach it.
func (d *diskTier) endEpoch() {
	if d.jr == nil || d.noMap || d.jr.Off() == 0 {
		return
	}
	if d.jr.Append([]byte{jEnd, 0, 0}) != nil {
		_ = d.jr.AppendFinal([]byte{jEnd, 0, 0})
	}
	e, from, to := d.jr.Pending()
	d.tail = journalRange{epoch: e, from: from, to: to, set: to > from}
}

// journalRange is a range of a journal epoch's file still to be synced.
type journalRange struct {
	epoch    uint64
	from, to int
	set      bool
}

// syncJournal makes the journal durable under the lock (rare callers: a
// drop at the disk cap under SyncAlways, marking the store running): the
// previous epoch's tail first, as commit does.
func (d *diskTier) syncJournal() error {
	if d.tail.set {
		if err := d.jr.SyncRange(d.tail.epoch, d.tail.from, d.tail.to); err != nil {
			return err
		}
		d.tail = journalRange{}
	}
	return d.jr.Sync()
}
