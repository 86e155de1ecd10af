package mm2

import (
	"errors"
	"fmt"
)

// The disk tier's face to the rest of the manager. The root calls one of
// these per write, read, ACK, sync and lifecycle step, under the manager's
// lock, and only when the manager has a disk tier (Manager.disk != nil):
//
//	write, writeGroup, writeBatch     store records, then the upkeep (sync policy, checkpoint)
//	beforeRead, read, peek, lastRead  the read barriers (reservations, SyncAlways); the disk part of a read
//	ack, nack                         the disk part of Stream.Ack and Stream.Nack
//	noteDrop                          journal a drop of RAM records
//	configure                         a new stream's number base and journal entry
//	sync, tick                        Manager.Sync and Manager.Tick
//	powerDown, powerAbort, close      the lifecycle
//	stats, streamStats, oldest        Stats and Stream.Stats
//	captureDisk, checkDisk, memBytes  Check and Footprint
//
// openDisk (diskopen.go) makes the tier and recovers the store. Everything
// else on diskTier (disk.go, diskopen.go, journal.go, fallback.go,
// snapshot.go, checkdisk.go) is behind these. Stream methods that move
// records between the tiers (ackThrough, moveStage, dropRange) keep the
// stream's counts and the disk part's together (see ramAvail).

// write stores one record (WriteTSD, WriteEVT) and runs the upkeep.
func (d *diskTier) write(s *Stream, v uint32, utc int64) error {
	return d.afterWrite(d.writeDisk(s, v, utc, false))
}

// writeGroup writes a GPS group (WriteEventWithGPS): the values in turn to
// their targets, all at utc, journaled as one group entry. A disk error
// part-way leaves the ones before it stored (each is counted and readable).
func (d *diskTier) writeGroup(targets []*Stream, vals []uint32, utc int64) error {
	defer d.jflush()
	for i, t := range targets {
		if err := d.writeDisk(t, vals[i], utc, true); err != nil {
			return d.afterWrite(err)
		}
	}
	return d.afterWrite(nil)
}

// writeBatch stores the samples of a checked batch (WriteBatch), with the
// upkeep of a write after each and one sync for all of them.
func (d *diskTier) writeBatch(ws []Write) (int, error) {
	// The records' journal entries are gathered into group entries, all
	// appended before this returns (a process crash loses none of them).
	defer d.jflush()
	var later error // a checkpoint that failed: the samples are stored
	for i := range ws {
		w := &ws[i]
		if err := d.writeDisk(w.Stream, w.Value, w.UTCms, true); err != nil {
			return i, d.batchErr(err, later)
		}
		if err := d.keepRoom(); err != nil {
			if d.m.closed {
				return i + 1, err
			}
			later = err
		}
	}
	if later == nil {
		later = d.syncDue()
	}
	if later != nil && d.policy.mode == syncAlways {
		return len(ws), fmt.Errorf("%w: %w", ErrNotDurable, later)
	}
	return len(ws), nil
}

// batchErr is the error of a batch stopped by a write's err: under
// SyncAlways the samples stored before it are made durable first, and a
// failure of that is joined to it.
func (d *diskTier) batchErr(err, later error) error {
	if d.policy.mode != syncAlways || d.m.closed {
		return err
	}
	if later == nil {
		later = d.commit()
	}
	if later != nil {
		return fmt.Errorf("%w (and the samples before it are not durable: %w: %w)", err, ErrNotDurable, later)
	}
	return err
}

// writeDisk stores a record with the disk backend: in RAM while the pool is
// below the spill threshold and the stream's disk part is empty, otherwise
// in the disk part.
func (d *diskTier) writeDisk(s *Stream, v uint32, utc int64, grouped bool) error {
	if err := d.waitJournalRoom(); err != nil {
		return err
	}
	if err := d.markRunning(); err != nil {
		return err
	}
	if d.policy.mode == syncAlways && d.syncFailed {
		// Only a write that can be made durable is taken: first retry
		// what the last sync left.
		if err := d.commit(); err != nil || d.syncFailed {
			return fmt.Errorf("%w: %w", ErrNotDurable, d.err)
		}
	}
	if !d.degradedRoom(s) {
		// Numbers beyond this could be reused after a power cut.
		return fmt.Errorf("%w: the journal is full and no checkpoint can be written: %v", ErrDiskFull, d.err)
	}
	// A stream with records on disk writes there: no need to ask its RAM
	// tail (FIFO across the tiers).
	slot, disk := false, d.stream(s).n > 0
	if !disk {
		slot = s.tailTakes(utc)
		disk = d.wantDisk(s, !slot)
	}
	if disk {
		err := d.appendDisk(s, v, utc, grouped)
		if err == nil || !d.stageToRAM(s) {
			return err
		}
		// Moved to RAM: the record follows it there, unless RAM
		// numbering does not continue (then it starts a new frame).
		if slot = s.tailTakes(utc); d.wantDisk(s, !slot) {
			return d.appendDisk(s, v, utc, grouped)
		}
	}
	if err := s.appendAt(v, utc); err != nil {
		return err
	}
	d.stream(s).lastSeq++
	implicit, at := s.ramJournalForm(slot, utc)
	d.jRecord(s, true, implicit, v, at, grouped)
	return nil
}

// afterWrite runs the disk tier's upkeep once a write call has stored its
// records: under SyncAlways the group commit that makes them durable. A
// disk error there is a state (Stats().DiskError): the records are stored
// and become durable at the first sync that succeeds; under SyncAlways the
// write says so with ErrNotDurable.
func (d *diskTier) afterWrite(err error) error {
	if err != nil {
		return err
	}
	if err := d.maintain(); err != nil && d.policy.mode == syncAlways {
		return fmt.Errorf("%w: %w", ErrNotDurable, err)
	}
	return nil
}

// ack acknowledges the stream's pending records, RAM part first, then the
// disk part by sequence number (Stream.Ack; something is pending).
func (d *diskTier) ack(s *Stream) (int, error) {
	if err := d.waitJournalRoom(); err != nil {
		return 0, err
	}
	if s.pending == 0 { // acknowledged by another caller meanwhile
		return 0, ErrNoData
	}
	n := int(s.pending)
	ds := d.stream(s)
	through := s.readSeq() // when every pending record is in RAM
	if n > s.ramAvail() {
		through = ds.rd.seq - 1 // the last pending record of the disk part
	}
	if k, ram := s.ackThrough(through); k < n {
		// Frames that could not be read (a bad block met now): their
		// records are the rest of the batch, acknowledged by number.
		ds.n -= min(uint32(n-k), ds.n)
		ds.ack.seq = max(ds.ack.seq, through+1)
		ds.rd = ds.ack
		d.liveStale = true // the segments' live counts and the frame count are left high
		if ram == 0 {
			s.acked = max(s.acked, through)
		}
	}
	s.pending = 0
	d.jThrough(jAck, s, through, 0)
	var err error
	if d.policy.mode == syncAlways {
		err = d.commit() // the ACK is durable before its data goes
	}
	if err == nil {
		// A failed removal is a disk state; the segment goes at a later ACK.
		_ = d.retireSegments()
		err = d.maintain()
	}
	if err != nil && d.policy.mode == syncAlways {
		return n, fmt.Errorf("%w: %w", ErrNotDurable, err)
	}
	return n, nil // a disk error is a state (Stats) for the other policies
}

// read decodes the next len(dst) records of the disk part from its read
// cursor, moving the cursor past them with mark (Stream.ReadBulk); the
// RAM part's unread records are all read already.
func (d *diskTier) read(s *Stream, dst []Sample, mark bool) (int, error) {
	ds := d.stream(s)
	cur := ds.rd
	k, err := d.readDisk(s, &cur, dst)
	if err == nil && mark {
		ds.rd = cur
	}
	return k, err
}

// peek returns the i-th unread record of the disk part (Stream.Peek).
func (d *diskTier) peek(s *Stream, i int) (Sample, error) {
	cur := d.stream(s).rd
	if err := d.skip(s, &cur, i); err != nil {
		return Sample{}, err
	}
	var one [1]Sample
	if _, err := d.readDisk(s, &cur, one[:]); err != nil {
		return Sample{}, err
	}
	return one[0], nil
}

// lastRead is the number of the last record read from the disk part.
func (d *diskTier) lastRead(s *Stream) uint64 { return d.stream(s).rd.seq - 1 }

// oldest is the stream's oldest unacknowledged record when its RAM part is
// empty: the first of the disk part.
func (d *diskTier) oldest(s *Stream) (Sample, error) {
	cur := d.stream(s).ack
	var one [1]Sample
	_, err := d.readDisk(s, &cur, one[:])
	return one[0], err
}

// noteDrop journals a drop of n RAM records numbered from first on.
func (d *diskTier) noteDrop(s *Stream, first uint64, n uint32, reason DropReason) {
	d.jDropRange(s, first, n, reason)
}

// stats fills the disk tier's part of Manager.Stats.
func (d *diskTier) stats(st *Stats) {
	st.Backend = "disk"
	ls := d.log.Stats()
	st.DiskBytes, st.DiskFiles = ls.Bytes, ls.Segments
	for i := range d.st {
		st.DiskRecords += uint64(d.st[i].n)
	}
	if d.err != nil {
		st.DiskError = d.err.Error()
		st.DiskFull = errorsIsENOSPC(d.err)
	}
	st.RecordsRecovered, st.RecordsSkipped, st.FramesSkipped = d.recovered, d.skippedRecords, d.skippedFrames
	st.BytesWritten, st.Syncs, st.Checkpoints = ls.BytesWritten, ls.Syncs, d.checkpoints
	st.CheckpointsStarted, st.DurableCheckpoint = d.cpStarted, d.cpDurable
}

// streamStats fills the disk tier's part of Stream.Stats.
func (d *diskTier) streamStats(s *Stream, st *StreamStats) {
	ds := d.stream(s)
	st.Written = ds.lastSeq
	st.SectorsDisk = int(ds.frames) // kept as frames come and go: O(1), not a walk of the log
	if h := ds.stage.H; h.Count > 0 && h.LastSeq() >= ds.ack.seq {
		st.SectorsDisk++
	}
}

// nack puts the disk part's read cursor back on its first unacknowledged
// record (Stream.Nack).
func (d *diskTier) nack(s *Stream) {
	ds := d.stream(s)
	ds.rd = ds.ack
}

// beforeRead raises the reservation of s's numbers when a reader would
// pass it (reserve.go), and under SyncAlways makes sure that a reader is
// handed no record that is not durable yet: it syncs the journal first (see
// commit, which releases the lock while it syncs). Errors: ErrClosed if the
// manager was closed meanwhile.
func (d *diskTier) beforeRead(s *Stream) error {
	if d.readOnly {
		return nil
	}
	// A disk error is a state; the read goes on, even past a reservation
	// that could not be raised (the left-over in reserve.go).
	_ = d.reserve(s)
	if d.jr != nil && d.policy.mode == syncAlways {
		_ = d.commit()
	}
	if d.m.closed {
		return ErrClosed
	}
	return nil
}

// configure gives a stream configured while running its first number and
// journals it (at Open, recovery gives streams their stored numbers).
func (d *diskTier) configure(s *Stream) {
	ds := d.stream(s) // allocated now, so reading stats never grows the manager
	if d.opening {
		return
	}
	s.acked = d.newStreamBase()
	ds.lastSeq, ds.epochSeq, ds.snapSeq, ds.lim = s.acked, s.acked, s.acked, noLimit
	d.jConfigure(s)
	if d.noMap && !d.readOnly {
		// No journal: the stream is durable once a checkpoint names it.
		_ = d.checkpoint(false)
	}
}

// sync makes everything written and acknowledged so far durable (Manager.Sync).
func (d *diskTier) sync() error {
	if d.readOnly {
		return nil
	}
	return d.commit()
}

// tick is Manager.Tick's work: a retry of a failed disk, then the upkeep.
func (d *diskTier) tick() error {
	if d.readOnly {
		return nil
	}
	if d.err != nil && d.retry(d.m.now()) {
		if err := d.checkpoint(false); err != nil {
			return err
		}
		d.err = nil
	}
	return d.maintain()
}

// powerDown writes the frames being filled to the segments when they can
// (the checkpoint holds them either way, so a failed write here costs
// nothing but a copy) and a clean checkpoint.
func (d *diskTier) powerDown() error {
	d.flushAllBestEffort()
	return d.checkpoint(true)
}

// powerAbort marks the store running again: a crash from now on is unclean.
func (d *diskTier) powerAbort() error {
	if d.readOnly {
		return nil
	}
	return d.markRunning()
}

// close ends the disk tier (Manager.Close, which has set closed): a last
// flush and clean checkpoint, then the journal and the log are closed.
func (d *diskTier) close() error {
	if d.readOnly {
		return nil
	}
	for d.syncing { // a group commit is using the journal
		d.synced.Wait()
	}
	d.flushAllBestEffort()
	err := d.checkpoint(true)
	var jerr error
	if d.jr != nil {
		jerr = d.jr.Close()
		d.jr = nil
	}
	return errors.Join(err, jerr, d.log.Close())
}
