package mm2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mm2go/mm2/internal/journal"
	"github.com/mm2go/mm2/internal/pool"
)

// The crash journal (internal/journal) takes an entry for every change the
// disk backend makes between two checkpoints, so that a process crash loses
// nothing: the entries are stores into a shared memory mapping, in the
// operating system as soon as the call returns. Open replays them on top of
// the newest checkpoint and the segments. docs/format.md has the layout.
const (
	jConfig = 1 // idx u16, source u8, kind u8, sensor u32, period u32, base u64 (the number before its first)
	jRAMTSD = 2 // idx u16, value u32: a TSD record in the RAM tail's next slot
	jRAMAt  = 3 // idx u16, value u32, utc i64: a RAM record with its time (EVT, or TSD opening a sector)
	jDisk   = 4 // idx u16, value u32, utc i64: a record of the disk part, with its stored time
	jAck    = 5 // idx u16, through u64: every record up to through acknowledged
	jDrop   = 6 // idx u16, through u64, reason u8: every record up to through dropped
	// jBroken (idx 0) ends an epoch whose changes go on unjournaled (the
	// journal was full and no checkpoint could be written): frames written
	// after the checkpoint are then not all in the journal, so Open keeps
	// them instead of rebuilding them from the journal.
	jBroken = 7
	// jNumber: idx u16, last u64: the stream's newest number is at least
	// last (what an Open that could not write its checkpoint decided).
	jNumber = 8
	// jRunning (idx 0): the store runs again after a clean checkpoint that
	// could not be followed by another one; the checkpoint is not clean.
	jRunning = 9
	// jEnd (idx 0) ends an epoch the journal left for the next one: the
	// next epoch continues it only when this mark was replayed.
	jEnd = 10
	// jDropRange: idx u16, first u64, count u32, reason u8: count records
	// numbered from first on were dropped (R-12: from the front of the
	// stream, or from behind a batch in flight, leaving a gap).
	jDropRange = 11
	// jToRAM: idx u16: the stream's frame being filled, which the disk
	// failed to take and which held all of its disk part, moved to the
	// end of its RAM part (fallback.go).
	jToRAM = 12
	// jDiskTSD: idx u16, value u32: a TSD record of the disk part in the
	// next slot of its stream's frame being filled (the frame's last time
	// plus its step), which holds an unacknowledged record before it.
	jDiskTSD = 13
	// jGroup: the record entries (kinds 2, 3, 4 and 13, each with its kind
	// and idx) of a WriteBatch, back to back: one entry and one check for
	// up to 36 records.
	jGroup = 14
	// jReserve: idx u16, seq u64: the stream's readers may be shown
	// numbers up to seq (reserve.go); synced before they are.
	jReserve = 15
)

// minRecordEntry is the fewest journal bytes a record takes (jRAMTSD's
// payload, inside a group entry): how many records a journal file can hold
// at most bounds how many numbers a stream can hand out between two
// checkpoints, which is how far numbering jumps after a power cut.
const minRecordEntry = 7

// journalRecords is how many records a journal file of size bytes holds at
// most.
func journalRecords(size int) uint64 {
	return uint64(max(size-journal.HeaderSize, 0)) / minRecordEntry
}

// DefaultJournalBytes is the size of each of the two journal files: about
// 90,000 records each in group entries, 54,000 one entry each.
const DefaultJournalBytes = 640 << 10

// jput appends one entry to the journal. When the journal is full a
// checkpoint is written instead: it holds the change already, so the entry
// is not needed. A journal that cannot take the entry (no checkpoint could
// be written) leaves the change unprotected against a crash until the next
// checkpoint, which Stats shows as a disk error.
func (d *diskTier) jput(p []byte) {
	m := d.m
	if d.jr == nil || d.replaying {
		return
	}
	if d.broken {
		return // until a checkpoint succeeds (see jBroken)
	}
	d.jflush() // a group gathered so far goes first: the journal keeps the order of the changes
	if err := d.jr.Append(p); err == nil {
		return
	} else if !errors.Is(err, journal.ErrFull) {
		panic("mm2: journal: " + err.Error())
	}
	err := errors.New("mm2: the journal filled up while a checkpoint was being written")
	if !d.cpBusy {
		err = d.checkpoint(false) // it holds this change: the entry is not needed
	}
	if err != nil {
		_ = d.fail(m.now(), err)
		d.broken = true
		_ = d.jr.AppendFinal([]byte{jBroken, 0, 0})
	}
}

// jgroup adds a record's entry to the group a WriteBatch is gathering, which
// jflush appends as one entry (the group goes first when it is full). The
// group is in the journal before the batch returns, before any other entry
// and before a checkpoint or a sync takes the journal's position.
func (d *diskTier) jgroup(p []byte) {
	if d.jr == nil || d.broken {
		return
	}
	if 1+len(d.jpend)+len(p) > journal.MaxEntry {
		d.jflush()
	}
	d.jpend = append(d.jpend, p...)
}

// jflush appends the group being gathered: as a group entry, or as the one
// record entry it holds.
func (d *diskTier) jflush() {
	if len(d.jpend) == 0 {
		return
	}
	b := d.jmulti[:0]
	if kind := d.jpend[0]; len(d.jpend) > recordEntryLen(kind) {
		b = append(b, jGroup)
	}
	b = append(b, d.jpend...)
	d.jmulti, d.jpend = b, d.jpend[:0]
	d.jput(b)
}

// recordEntryLen is the length of a record entry of kind (0: not one).
func recordEntryLen(kind byte) int {
	switch kind {
	case jRAMTSD, jDiskTSD:
		return 7
	case jRAMAt, jDisk:
		return 15
	}
	return 0
}

func (d *diskTier) entry(kind byte, s *Stream) []byte {
	b := d.jbuf[:0]
	b = append(b, kind)
	return binary.LittleEndian.AppendUint16(b, s.idx)
}

func (d *diskTier) jConfigure(s *Stream) {
	if d.jr == nil || d.replaying {
		return
	}
	b := append(d.entry(jConfig, s), uint8(s.source), uint8(s.kind))
	b = binary.LittleEndian.AppendUint32(b, s.sensor)
	b = binary.LittleEndian.AppendUint32(b, s.periodMs)
	d.jput(binary.LittleEndian.AppendUint64(b, s.acked))
}

// jRecord journals a record just stored: in the RAM tier (ram) or the disk
// part, at its stored time utc. A TSD record in its RAM sector's next slot
// needs no time. grouped: the record is one of a WriteBatch (jgroup).
func (d *diskTier) jRecord(s *Stream, ram, slot bool, v uint32, utc int64, grouped bool) {
	if d.replaying {
		return
	}
	d.sinceCP++
	if d.jr == nil {
		return
	}
	var b []byte
	switch {
	case slot && ram:
		b = binary.LittleEndian.AppendUint32(d.entry(jRAMTSD, s), v)
	case slot:
		b = binary.LittleEndian.AppendUint32(d.entry(jDiskTSD, s), v)
	default:
		kind := byte(jDisk)
		if ram {
			kind = jRAMAt
		}
		b = binary.LittleEndian.AppendUint32(d.entry(kind, s), v)
		b = binary.LittleEndian.AppendUint64(b, uint64(utc))
	}
	if grouped {
		d.jgroup(b)
	} else {
		d.jput(b)
	}
}

// jDropRange journals n records dropped from first on.
func (d *diskTier) jDropRange(s *Stream, first uint64, n uint32, reason DropReason) {
	if d.jr == nil || d.replaying {
		return
	}
	b := binary.LittleEndian.AppendUint64(d.entry(jDropRange, s), first)
	b = binary.LittleEndian.AppendUint32(b, n)
	d.jput(append(b, byte(reason)))
}

// jThrough journals an acknowledgement or a drop up to seq.
func (d *diskTier) jThrough(kind byte, s *Stream, seq uint64, reason DropReason) {
	if d.jr == nil || d.replaying {
		return
	}
	b := binary.LittleEndian.AppendUint64(d.entry(kind, s), seq)
	if kind == jDrop {
		b = append(b, byte(reason))
	}
	d.jput(b)
}

// replayer applies journal entries at Open.
type replayer struct {
	m       *Manager
	streams map[uint16]*Stream // journal index to stream
	seq     map[*Stream]uint64 // newest number the journal gave the stream
	top     map[*Stream]uint64 // newest number already in the disk part (or gone)
	applied int
	skipped int
}

// replayJournal applies the entries of epoch e (those made after the
// checkpoint of generation e) and returns how many it applied.
// start holds each stream's newest number as of the checkpoint.
func (d *diskTier) replayJournal(spans []journalSpan, byIdx map[uint16]*Stream, start, top map[*Stream]uint64) (int, int) {
	m := d.m
	r := &replayer{m: m, streams: byIdx, seq: map[*Stream]uint64{}, top: top}
	for _, s := range byIdx {
		r.seq[s] = start[s]
	}
	d.replaying = true
	for _, sp := range spans {
		journal.ScanFrom(sp.b, sp.epoch, sp.from, r.apply)
	}
	d.replaying = false
	return r.applied, r.skipped
}

// journalSpan is a part of the journal to replay: epoch's file b from from.
type journalSpan struct {
	b     []byte
	epoch uint64
	from  int
}

// maxJournalBytes bounds a journal file Open reads whole (the largest
// JournalBytes): a larger one is damage (spool.ReadBounded), never a reason
// to run out of memory.
const maxJournalBytes = 1 << 30

func (r *replayer) apply(p []byte) {
	if len(p) > 0 && p[0] == jGroup {
		r.group(p[1:])
		return
	}
	if len(p) < 3 {
		r.skipped++
		return
	}
	kind, idx, body := p[0], binary.LittleEndian.Uint16(p[1:]), p[3:]
	if kind == jBroken || kind == jRunning || kind == jEnd {
		r.applied++
		return
	}
	if kind == jConfig {
		r.config(idx, body)
		return
	}
	s := r.streams[idx]
	if s == nil {
		r.skipped++
		return
	}
	m := r.m
	ds := m.disk.stream(s)
	ok := true
	switch {
	case kind == jRAMTSD && len(body) == 4 && s.kind == TSD:
		utc, has := s.lastRAMTime()
		ok = has && r.ram(s, binary.LittleEndian.Uint32(body), utc+int64(s.periodMs))
	case kind == jRAMAt && len(body) == 12:
		ok = r.ram(s, binary.LittleEndian.Uint32(body), int64(binary.LittleEndian.Uint64(body[4:])))
	case kind == jDisk && len(body) == 12:
		r.seq[s]++
		seq := r.seq[s]
		if seq > r.top[s] {
			ok = m.disk.restoreDisk(s, seq, binary.LittleEndian.Uint32(body), int64(binary.LittleEndian.Uint64(body[4:])))
			r.top[s] = seq
		}
	case kind == jDiskTSD && len(body) == 4 && s.kind == TSD:
		r.seq[s]++
		seq := r.seq[s]
		if seq > r.top[s] {
			// The record before it is in the frame being filled: the
			// checkpoint's stage or an entry replayed before this one.
			h := ds.stage.H
			ok = h.Count >= 2 && h.LastSeq() == seq-1 && m.disk.restoreDisk(s, seq, binary.LittleEndian.Uint32(body), h.LastTS+h.Step)
			r.top[s] = seq
		}
	case kind == jNumber && len(body) == 8:
		v := binary.LittleEndian.Uint64(body)
		ds.lastSeq = max(ds.lastSeq, v)
		r.seq[s] = max(r.seq[s], v)
		r.top[s] = max(r.top[s], v)
		if s.ramAvail() == 0 && ds.n == 0 {
			s.acked = max(s.acked, v)
		}
	case kind == jReserve && len(body) == 8:
		ds.reserved = max(ds.reserved, binary.LittleEndian.Uint64(body))
	case (kind == jAck && len(body) == 8) || (kind == jDrop && len(body) == 9):
		through := binary.LittleEndian.Uint64(body)
		n, _ := s.ackThrough(through)
		s.unread -= uint32(n)
		if s.head != pool.Nil {
			s.setReadCursor(s.seek(int(s.headSkip))) // nothing is pending at Open
		}
		if kind == jDrop && n > 0 && DropReason(body[8]) < numDropReasons {
			s.countDrop(DropReason(body[8]), uint32(n))
		}
		r.top[s] = max(r.top[s], through)
	case kind == jToRAM && len(body) == 0:
		ok = s.moveStage()
	case kind == jDropRange && len(body) == 13 && DropReason(body[12]) < numDropReasons && binary.LittleEndian.Uint32(body[8:]) > 0:
		first, n := binary.LittleEndian.Uint64(body), binary.LittleEndian.Uint32(body[8:])
		r.dropRange(s, first, n, DropReason(body[12]))
	default:
		ok = false
	}
	if ok {
		r.applied++
	} else {
		r.skipped++
	}
}

// group replays the record entries of a group entry in turn; one that is
// not a record entry, or runs past the end, ends it (counted skipped).
func (r *replayer) group(p []byte) {
	for len(p) > 0 {
		n := recordEntryLen(p[0])
		if n == 0 || n > len(p) {
			r.skipped++
			return
		}
		r.apply(p[:n])
		p = p[n:]
	}
}

func (r *replayer) config(idx uint16, body []byte) {
	if len(body) != 18 {
		r.skipped++
		return
	}
	id := StreamID{Source(body[0]), binary.LittleEndian.Uint32(body[2:])}
	kind := Kind(body[1])
	period := time.Duration(binary.LittleEndian.Uint32(body[6:])) * time.Millisecond
	s, err := r.m.configureLocked(id, kind, period)
	if err != nil {
		r.skipped++
		return
	}
	r.streams[idx] = s
	if _, seen := r.seq[s]; !seen {
		// New since the checkpoint: it started at the number it was given.
		base := binary.LittleEndian.Uint64(body[10:])
		ds := r.m.disk.stream(s)
		if s.ramAvail() == 0 && ds.n == 0 {
			s.acked = max(s.acked, base)
		}
		ds.lastSeq = max(ds.lastSeq, base)
		r.seq[s] = base
		r.top[s] = max(r.top[s], base)
	}
	r.applied++
}

// dropRange replays a drop of n records numbered from first on: RAM records
// (drop-oldest) are taken out of the chain; records of the disk part (the
// oldest segment dropped at the cap) off its front. The drop counts the n
// records the live drop counted, whether or not they are still there (the
// segment may be gone already).
func (r *replayer) dropRange(s *Stream, first uint64, n uint32, reason DropReason) {
	ds := r.m.disk.stream(s)
	last := first + uint64(n) - 1
	empty := s.ramAvail() == 0
	if !empty && first <= s.ramTop() {
		if k := s.dropRange(first, n); k > 0 {
			s.countDrop(reason, uint32(k))
		}
		return
	}
	k := s.advanceDisk(last, empty)
	s.unread -= uint32(k) // nothing is pending at Open
	if empty {
		s.acked = max(s.acked, last)
		if ds.n > 0 {
			s.acked = min(s.acked, ds.ack.seq-1)
		}
	}
	if ds.n == 0 {
		ds.ack.seq = max(ds.ack.seq, last+1)
	}
	if ds.rd.seq < ds.ack.seq {
		ds.rd = ds.ack
	}
	s.countDrop(reason, n)
	r.top[s] = max(r.top[s], last)
}

// ram replays a record of the RAM tier.
func (r *replayer) ram(s *Stream, v uint32, utc int64) bool {
	ds := r.m.disk.stream(s)
	r.seq[s]++
	seq := r.seq[s]
	if top := s.ramTop(); seq > top+1 && ds.n == 0 && s.head != pool.Nil {
		// Numbers between the RAM part and this record are a gap the
		// checkpoint could not hold: one ending its RAM chain (numbers
		// handed out past a frame moved to RAM, see moveStage).
		s.appendGap(seq - top - 1)
	}
	// The disk part may already hold later records (frames written after
	// the checkpoint); a RAM record comes before all of them.
	if seq != s.ramTop()+1 || (ds.n > 0 && seq >= ds.ack.seq) {
		return false // not the next RAM record: it cannot be placed
	}
	if s.restoreRecord(v, utc) != nil {
		return false
	}
	ds.lastSeq = max(ds.lastSeq, r.seq[s])
	return true
}

// lastRAMTime is the stored time of the stream's newest RAM record.
func (s *Stream) lastRAMTime() (int64, bool) {
	if s.ramAvail() == 0 {
		return 0, false
	}
	c := s.seek(int(s.headSkip) + s.ramAvail() - 1)
	var seq uint64
	return s.next(&c, &seq).UTCms, true
}

// newStreamBase is the number before the first record of a stream
// configured now. It is 0 (numbering from 1) until a power cut: a stream
// configured after the last checkpoint is unknown after a power cut and may
// be configured again, so each Open that finds one raises the base past
// what such a stream could have handed out (the journal's capacity, twice
// more when it ran unjournaled; see degradedRoom), and the checkpoint keeps
// it. A process crash or a clean restart changes nothing.
func (d *diskTier) newStreamBase() uint64 {
	if (d.jr == nil && !d.noMap) || d.broken {
		// Not journaled: as if the power were cut next.
		return d.newBase + 3*d.jcap
	}
	return d.newBase
}

// degradedRoom reports whether stream s may hand out another number while
// its changes go unjournaled (the journal full and no checkpoint written):
// up to the journal's capacity beyond where the epoch began, which is how
// far Open renumbers past a journal found that full.
func (d *diskTier) degradedRoom(s *Stream) bool {
	ds := d.stream(s)
	return !d.broken || ds.lastSeq < ds.epochSeq+d.jcap
}

// markRunning makes sure a crash from now on is not taken for a clean
// shutdown before a number is handed out after one: a checkpoint that is
// not clean, or else a synced jRunning entry (the journal's files need no
// new space). Errors: the disk's, when neither can be written; then
// nothing may be written.
func (d *diskTier) markRunning() error {
	if !d.clean {
		return nil
	}
	err := d.checkpoint(false)
	if err == nil {
		return nil
	}
	if d.jr != nil && !d.broken {
		if jerr := d.jr.Append([]byte{jRunning, 0, 0}); jerr == nil {
			if jerr = d.syncJournal(); jerr == nil {
				d.clean = false
				return nil
			}
		}
	}
	return fmt.Errorf("%w: the store cannot record that it runs again: %v", ErrDiskFull, err)
}

// waitJournalRoom makes a change wait, before it changes anything, while a
// checkpoint is being written outside the lock and the journal is nearly
// full: the checkpoint's new epoch frees it. Errors: ErrClosed.
func (d *diskTier) waitJournalRoom() error {
	m := d.m
	for d.cpBusy && d.jr != nil && d.jr.UsedOver(90) && !m.closed {
		d.synced.Wait()
	}
	if m.closed {
		return ErrClosed
	}
	return nil
}
