package mm2

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"path"
	"sync"
	"time"

	"github.com/mm2go/mm2/internal/journal"
	"github.com/mm2go/mm2/internal/spool"
	"github.com/mm2go/mm2/vfs"
)

// openDisk recovers the store under Options.Dir: the checkpoint (cursors and
// the RAM tier as of the last power-down or checkpoint), then every segment
// frame with a sequence number above what is acknowledged. Damage is cut,
// skipped, counted and quarantined; Open fails only when the directory
// itself cannot be used.
func (m *Manager) openDisk(fsys vfs.FS, readOnly bool) error {
	o := m.opts
	if err := fsys.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("mm2: disk backend: %w", err)
	}
	// The directory itself must survive a crash (read-only: nothing changes).
	if err := fsys.SyncDir(path.Dir(path.Clean(o.Dir))); !readOnly && err != nil {
		return fmt.Errorf("mm2: disk backend: %w", err)
	}
	d := &diskTier{m: m, fs: fsys, dir: o.Dir, log: spool.NewLog(fsys, o.Dir, o.SegmentBytes), slots: spool.NewSlots(fsys, o.Dir), policy: o.Sync,
		readOnly: readOnly, boot: vfs.BootID(fsys), jsize: o.JournalBytes, synced: sync.NewCond(&m.mu),
		jcap: journalRecords(o.JournalBytes)}
	// Segment files are created ahead only on the operating system's
	// filesystem (spool.Log.Precreate says why).
	d.log.Precreate = !readOnly && fsys == vfs.OS()
	m.disk = d
	d.opening = true
	defer func() { d.opening = false }()
	cp, clean, damaged, err := d.loadCheckpoint()
	if err != nil {
		return err
	}
	d.newBase = cp.NewBase
	d.durableEpoch = cp.JournalEpoch
	// The changes after the checkpoint are in the journal from the position
	// it names, and on into the next epoch when the journal switched while
	// a later checkpoint was being written (and that one did not land).
	e, from := cp.JournalEpoch, int(cp.JournalOff)
	if cp.Gen == 0 {
		from = journal.HeaderSize // no checkpoint yet: all of epoch 0
	}
	spans := []journalSpan{{epoch: e, from: from}}
	spans[0].b, _ = spool.ReadBounded(d.fs, path.Join(d.dir, journal.Names[e%2]), maxJournalBytes)
	var next []byte
	if h, err := journal.ParseHeader(spans[0].b); cp.Gen == 0 && (err != nil || h.Epoch != 0) {
		// No checkpoint, and no journal of a store that never wrote one: a
		// later epoch's entries have no state to apply to.
		spans[0].b = nil
	} else if b, err := spool.ReadBounded(d.fs, path.Join(d.dir, journal.Names[(e+1)%2]), maxJournalBytes); err == nil {
		if h, err := journal.ParseHeader(b); err == nil && h.Epoch == e+1 {
			next = b
		}
	}
	broken, running, ended := false, false, false
	scanFlags := func(p []byte) {
		broken = broken || p[0] == jBroken
		running = running || p[0] == jRunning
		ended = ended || p[0] == jEnd
	}
	_, jend := journal.ScanFrom(spans[0].b, e, from, scanFlags)
	// The next epoch continues this one only when this one is whole (it
	// ends with its end mark); after a power cut that tore it, the next
	// epoch's entries follow a gap and are not replayed (numbering jumps
	// past both instead).
	lostEpoch := false
	if next != nil && ended {
		spans = append(spans, journalSpan{b: next, epoch: e + 1, from: journal.HeaderSize})
		_, jend = journal.ScanFrom(next, e+1, journal.HeaderSize, scanFlags)
	} else if next != nil {
		lostEpoch = true // numbers were handed out in an epoch that cannot be replayed
	}
	latest := spans[len(spans)-1]
	d.epoch = latest.epoch
	// A process crash leaves the page cache, so a journal of this boot is
	// whole and numbering continues exactly (so does a checkpoint written in
	// this boot: nothing written after it was lost); after a power cut
	// (another boot) numbering resumes above every number that may have
	// been handed out. A clean checkpoint, or a journal whose writer synced
	// every entry (SyncAlways), needs no jump either.
	sameBoot, durable := d.journalOrigin(latest.b)
	sameBoot = sameBoot || (d.boot != "" && cp.Boot == d.boot)
	jump := (!clean && !sameBoot && !durable) || lostEpoch
	if running { // written after a clean checkpoint: the shutdown was not clean after all
		clean = false
		jump = (!sameBoot && !durable) || lostEpoch
	}
	// The journal holds every record written to the segments since the
	// checkpoint (after its log end): a writable Open cuts those frames and
	// rebuilds them from the journal, so a power cut that lost some of them
	// leaves no hole.
	if !readOnly && !clean && cp.End.Seg > 0 && len(spans[0].b) > 0 && !broken {
		if h, err := journal.ParseHeader(spans[0].b); err == nil && h.Epoch == e {
			if err := d.cutLog(cp.End); err != nil {
				d.noteDamage(spool.Damage{File: ".", Err: err})
			}
		}
	}
	byIdx := make(map[uint16]*Stream, len(cp.Streams))
	start := make(map[*Stream]uint64, len(cp.Streams))
	for i, st := range cp.Streams {
		s, err := m.configureLocked(StreamID{Source(st.Source), st.Sensor}, Kind(st.Kind), time.Duration(st.Period)*time.Millisecond)
		if err != nil {
			d.noteDamage(spool.Damage{File: spool.CheckpointNames[cp.Gen%2], Err: err})
			continue
		}
		byIdx[uint16(i)] = s
		start[s] = st.LastSeq
		ds := d.stream(s)
		s.acked = st.Acked
		ds.lastSeq, ds.reserved = st.LastSeq, st.Reserved
	}
	d.restoreRAM(cp.Frames)
	seen := map[uint16]uint64{}
	damage, err := d.log.Recover(func(pos spool.Pos, h spool.FrameHeader, _ []byte) (uint16, int, bool) {
		return d.recoverFrame(pos, h, seen)
	}, !readOnly)
	for _, dm := range damage {
		d.noteDamage(dm)
	}
	if err != nil {
		return fmt.Errorf("mm2: disk backend: %w", err)
	}
	// What is already in the disk part (or acknowledged) is not restored
	// again from the checkpoint's stages or the journal.
	top := make(map[*Stream]uint64, m.nStream)
	for i := 0; i < m.nStream; i++ {
		s := m.at(uint16(i))
		top[s] = max(s.ramTop(), seen[s.idx])
	}
	d.restoreStages(cp.Stages, top)
	applied, skipped := d.replayJournal(spans, byIdx, start, top)
	d.skippedRecords += uint64(skipped)
	// After a power cut, the entries the journal lost are at most its
	// capacity less what was replayed (each record took an entry), and a
	// journal of an epoch whose checkpoint is missing may have lost all of
	// its capacity: numbering resumes that far above what was found, so a
	// number handed out before the cut is never reused.
	// A journal filled past the point where a checkpoint is due means the
	// checkpoints failed: the store then numbered up to another capacity
	// of records unjournaled (see degradedRoom), so the jump covers that.
	jcap := max(d.jcap, journalRecords(len(latest.b))) // the file may predate a smaller JournalBytes
	epochs := uint64(1)
	if next != nil || jend > len(latest.b)/2 {
		epochs = 2 // the journal switched epochs, or may have (its next header lost too)
	}
	lost := epochs*jcap - min(epochs*jcap, uint64(applied))
	extra := uint64(0)
	if broken || jend > len(latest.b)*19/20 {
		extra = 2 * jcap // unjournaled numbering, see degradedRoom
	}
	if (jump || broken) && (cp.Gen > 0 || damaged || d.log.Len() > 0 || jend > 0) { // a new store lost nothing
		d.newBase += 3 * jcap // streams lost in the cut start above what they could have used
	}
	for i := 0; i < m.nStream; i++ {
		s := m.at(uint16(i))
		ds := d.stream(s)
		st, known := start[s]
		switch {
		case jump && known && ds.reserved > st && !damaged && !broken && extra == 0:
			// Its readers were shown no number past its reservation
			// (the checkpoint's, or a synced raise in the journal; one at
			// the checkpoint's newest number is no reservation: a store
			// written before them).
			// A journal that could not go on may have refused a raise:
			// then the store-wide bound (below).
			ds.lastSeq = max(ds.lastSeq, ds.reserved)
		case jump:
			ds.lastSeq = max(ds.lastSeq+lost, ds.reserved)
			if known && extra > 0 {
				ds.lastSeq = max(ds.lastSeq, st+extra)
			}
		}
		// Readers go past the newest number only once a reservation
		// (the checkpoint written below, or a synced raise) covers it.
		ds.snapSeq, ds.lim = ds.lastSeq, ds.lastSeq
		if readOnly {
			ds.lim = noLimit
		}
		ds.rd = ds.ack
		if ds.n == 0 {
			ds.rd = dpos{pos: d.endPos(), seq: ds.lastSeq + 1}
			ds.ack = ds.rd
		}
		if s.ramAvail() == 0 && ds.n == 0 {
			s.acked = ds.lastSeq
		}
	}
	// Segments that an unsynced removal left behind can put the store over
	// its cap: drop the oldest again, counted.
	for d.log.Len() > 1 && d.log.Size() > o.DiskCapBytes {
		if err := d.dropFrontSegment(); err != nil {
			return fmt.Errorf("mm2: disk backend: %w", err)
		}
	}
	// A segment that holds nothing unacknowledged any more (one a power
	// cut brought back after its drop, replayed from the journal) goes now,
	// before a checkpoint forgets why its records are not live.
	if !readOnly {
		_ = d.retireSegments() // a failure is a disk state; the segment goes later
	}
	for i := range d.st {
		s := m.at(uint16(i))
		d.recovered += uint64(s.pending) + uint64(s.unread)
	}
	if d.recovered > 0 || len(d.damage) > 0 {
		m.log.Info("mm2: recovered store", "dir", o.Dir, "records", d.recovered, "journal_entries", applied,
			"skipped_records", d.skippedRecords, "skipped_frames", d.skippedFrames, "clean", clean, "renumbered", jump)
	}
	d.clean = clean
	if readOnly {
		return nil
	}
	// Persist what recovery found and start the journal. A full or failing
	// disk does not stop Open: the checkpoint is retried (Stats shows the
	// error), and until it succeeds changes are not journaled.
	if err := d.checkpoint(false); err != nil {
		m.log.Warn("mm2: cannot write the checkpoint at open; will retry", "error", err.Error())
		d.resumeJournal(latest.epoch, jend)
	}
	return nil
}

// resumeJournal goes on with the journal of the checkpoint Open found, when
// no new checkpoint could be written (a full or failing disk). It first
// journals, and syncs, what Open decided: every stream's place in the
// stream table and its newest number (after a renumbering jump), so a
// later recovery from the same checkpoint agrees with what is handed out
// now. The journal needs no new space: its files are preallocated.
func (d *diskTier) resumeJournal(gen uint64, end int) {
	m := d.m
	j, err := journal.Open(d.fs, d.dir, d.jsize)
	if err != nil {
		return
	}
	if end > 0 {
		j.Resume(gen, end)
	} else {
		j.Start(gen, d.boot, 0)
	}
	d.jr = j
	for i := 0; i < m.nStream; i++ {
		s := m.at(uint16(i))
		d.jConfigure(s)
		b := binary.LittleEndian.AppendUint64(d.entry(jNumber, s), d.stream(s).lastSeq)
		d.jput(b)
		d.stream(s).epochSeq = d.stream(s).lastSeq
	}
	if err := j.Sync(); err != nil {
		d.broken = true
		_ = d.fail(m.now(), err)
	}
}

// cutLog removes what the segments hold after end: frames written after the
// checkpoint, which the journal holds too.
func (d *diskTier) cutLog(end spool.Pos) error {
	ents, err := d.fs.ReadDir(d.dir)
	if err != nil {
		return err
	}
	cut := false
	for _, e := range ents {
		no, ok := spool.ParseSegmentName(e.Name())
		if !ok || no < end.Seg {
			continue
		}
		name := path.Join(d.dir, e.Name())
		if no > end.Seg || end.Off <= spool.SegmentHeaderSize {
			if err := d.fs.Remove(name); err != nil {
				return err
			}
			cut = true
			continue
		}
		fi, err := d.fs.Stat(name)
		if err != nil || fi.Size() <= end.Off {
			continue
		}
		f, err := d.fs.OpenAppend(name)
		if err != nil {
			return err
		}
		err = f.Truncate(end.Off)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		cut = true
	}
	if cut {
		return d.fs.SyncDir(d.dir)
	}
	return nil
}

// journalOrigin reports whether a journal file was written in this boot of
// the machine (a process crash keeps every entry), and whether its writer
// synced every entry before returning (SyncAlways).
func (d *diskTier) journalOrigin(b []byte) (sameBoot, durable bool) {
	h, err := journal.ParseHeader(b)
	if err != nil {
		return false, false
	}
	return d.boot != "" && h.Boot == d.boot, h.Flags&journal.FlagDurable != 0
}

// restoreStages puts the checkpoint's frames being filled back into the
// disk part, past what the segments hold.
func (d *diskTier) restoreStages(frames []byte, top map[*Stream]uint64) {
	d.checkpointFrames(frames, func(s *Stream, h spool.FrameHeader, recs []spool.Record) {
		for i, r := range recs {
			seq := h.FirstSeq + uint64(i)
			if seq <= top[s] {
				continue
			}
			if !d.restoreDisk(s, seq, r.Value, r.UTC) {
				d.skippedRecords++
				continue
			}
			top[s] = seq
		}
	})
}

// checkpointFrames calls fn with the decoded records of every frame of a
// checkpoint (verified by DecodeCheckpoint) whose stream is configured.
func (d *diskTier) checkpointFrames(frames []byte, fn func(s *Stream, h spool.FrameHeader, recs []spool.Record)) {
	m := d.m
	recs := make([]spool.Record, 0, spool.MaxFramePayload/4+1)
	for off := 0; off < len(frames); {
		h, payload, err := spool.DecodeFrame(frames[off:])
		if err != nil {
			return
		}
		off += h.Size()
		pos, found := m.search(StreamID{Source(h.Source), h.Sensor})
		if !found {
			continue
		}
		recs, _ = spool.FrameRecords(h, payload, recs)
		fn(m.at(m.index[pos]), h, recs)
	}
}

// loadCheckpoint reads both checkpoint slots and returns the valid one
// with the highest generation. A damaged slot is reported and copied to
// corrupted/. When the newest checkpoint may be the damaged one, the store
// is treated as unclean and numbering jumps a further reservation, so no
// number handed out after the older checkpoint is reused.
func (d *diskTier) loadCheckpoint() (spool.Checkpoint, bool, bool, error) {
	rs, err := d.slots.ReadAll()
	if err != nil {
		return spool.Checkpoint{}, false, false, fmt.Errorf("mm2: disk backend: %w: %w", err, ErrInvalidArgument)
	}
	damaged := false
	for _, r := range rs {
		if r.Err == nil {
			continue
		}
		damaged = true
		d.noteDamage(spool.Damage{File: r.Name, Err: r.Err, Bytes: int64(len(r.Bytes))})
		if r.Bytes != nil && !d.readOnly {
			_ = d.slots.Quarantine(r)
		}
	}
	best, found := spool.Latest(rs)
	if !found {
		return spool.Checkpoint{}, false, damaged, nil
	}
	d.gen = best.Gen
	return best, best.Clean && !damaged, damaged, nil
}

// restoreRAM puts the checkpoint's RAM records back into the pool.
func (d *diskTier) restoreRAM(frames []byte) {
	d.checkpointFrames(frames, func(s *Stream, h spool.FrameHeader, recs []spool.Record) {
		for i, r := range recs {
			seq, top := h.FirstSeq+uint64(i), s.ramTop()
			if seq > top+1 && s.ramAvail() > 0 && s.appendGap(seq-top-1) {
				top = seq - 1 // records dropped behind a batch in flight
			}
			if seq != top+1 {
				continue // not the next RAM record: a stale or foreign frame
			}
			if err := s.restoreRecord(r.Value, r.UTC); err != nil {
				d.skippedRecords += uint64(len(recs) - i)
				break
			}
		}
	})
}

// recoverFrame files one good frame found in a segment under its stream.
func (d *diskTier) recoverFrame(pos spool.Pos, h spool.FrameHeader, seen map[uint16]uint64) (uint16, int, bool) {
	m := d.m
	id := StreamID{Source(h.Source), h.Sensor}
	var s *Stream
	if p, found := m.search(id); found {
		s = m.at(m.index[p])
	} else {
		var err error
		if s, err = m.configureLocked(id, Kind(h.Kind), time.Duration(h.Period)*time.Millisecond); err != nil {
			d.skippedFrames++
			d.skippedRecords += uint64(h.Count)
			return 0, 0, false
		}
	}
	if uint8(s.kind) != h.Kind || (s.kind == TSD && s.periodMs != h.Period) {
		d.skippedFrames++
		d.skippedRecords += uint64(h.Count)
		return 0, 0, false
	}
	ds := d.stream(s)
	lo := max(h.FirstSeq, s.ramTop()+1, seen[s.idx]+1)
	if lo > h.LastSeq() {
		return s.idx, 0, true
	}
	if ds.n == 0 {
		ds.ack = dpos{pos: pos, seq: lo}
	}
	live := int(h.LastSeq() - lo + 1)
	ds.n += uint32(live)
	ds.frames++
	s.unread += uint32(live)
	seen[s.idx] = h.LastSeq()
	ds.lastSeq = max(ds.lastSeq, h.LastSeq())
	return s.idx, live, true
}

func (d *diskTier) noteDamage(dm spool.Damage) {
	m := d.m
	d.damage = append(d.damage, dm)
	d.skippedFrames += uint64(dm.Frames)
	d.skippedRecords += uint64(dm.Records)
	// Unacknowledged records of a skipped frame are drops of its stream.
	if h := dm.Header; h != nil {
		if pos, found := m.search(StreamID{Source(h.Source), h.Sensor}); found {
			s := m.at(m.index[pos])
			if lo := max(h.FirstSeq, s.ramTop()+1); lo <= h.LastSeq() {
				s.countDrop(DropCorrupt, uint32(h.LastSeq()-lo+1))
			}
		}
	}
	if m.log.Enabled(context.Background(), slog.LevelWarn) {
		m.log.Warn("mm2: corruption found", "file", dm.File, "offset", dm.Offset, "error", errString(dm.Err),
			"frames", dm.Frames, "records", dm.Records)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Damage lists what recovery found damaged at Open, as CorruptionErrors.
func (m *Manager) Damage() []error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.disk == nil {
		return nil
	}
	var out []error
	for _, dm := range m.disk.damage {
		out = append(out, &CorruptionError{File: dm.File, Offset: dm.Offset, Err: dm.Err})
	}
	return out
}
