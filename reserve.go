package mm2

import (
	"encoding/binary"

	"github.com/mm2go/mm2/internal/spool"
)

// Per-stream reservations of sequence numbers, for the power cut.
//
// A power cut can destroy journal entries the kernel had not written back,
// so Open cannot know every number handed out before it. Numbers become
// visible only to readers (a write returns no number), so what must never
// be reused is a number a reader may have seen. Each checkpoint names, per
// stream, a reservation: a number past which the stream's readers are not
// shown records until a durable checkpoint or a synced journal entry
// (jReserve) raises it. After a power cut a stream resumes at its
// reservation: the jump is at most the stream's headroom, set by its own
// pace, not the store's.
//
// Writers never wait for a reservation. A reader that would pass its
// stream's reservation first raises the reservation of every stream that
// needs it, in one journal sync made without the lock (commit). A disk
// error is a state, not a reason to stop the uplink: when the sync fails,
// the read goes on (retried once a retry interval), and a power cut before
// the next successful sync may then give the numbers read past the
// reservation to other records (docs/durability.md, left over).

// minHeadroom is the least a reservation reaches past a stream's newest
// number. The headroom is twice what the stream wrote since the last
// snapshot, at most the journal's capacity (the store-wide bound a power
// cut could need anyway).
const minHeadroom = 256

// noLimit is the reservation of a stream no durable checkpoint names yet
// (configured since): a power cut makes it a new stream, numbered above
// anything it could have used (newStreamBase).
const noLimit = ^uint64(0)

// headroom is how far past its newest number ds's next reservation reaches.
func (d *diskTier) headroom(ds *diskStream) uint64 {
	return min(max(minHeadroom, 2*(ds.lastSeq-ds.snapSeq)), max(d.jcap, minHeadroom))
}

// reserveAt is the reservation a snapshot names for ds, taken under the
// lock with the snapshot. Until the checkpoint is durable, readers stay
// within the old reservation and the new one both: a power cut now
// recovers from either checkpoint. A raise being synced is kept in it, as
// its entry lies before the checkpoint's journal position.
func (d *diskTier) reserveAt(ds *diskStream) uint64 {
	r := max(ds.lastSeq+d.headroom(ds), ds.bumping)
	ds.snapSeq = ds.lastSeq
	ds.lim = min(ds.lim, r)
	return r
}

// reserved records that checkpoint c is durable: its reservations hold.
func (d *diskTier) reserved(c *spool.Checkpoint) {
	for i := range c.Streams {
		if i < len(d.st) {
			d.st[i].lim = max(d.st[i].lim, c.Streams[i].Reserved)
		}
	}
}

// reserve raises the reservation of every stream whose newest number is
// past it, with one synced journal entry each, before a reader of s is
// shown such a number (beforeRead). A store without a working journal
// writes a checkpoint instead. Errors: the disk's, when nothing could be
// made durable (the caller's read goes on).
func (d *diskTier) reserve(s *Stream) error {
	m := d.m
	if ds := d.stream(s); ds.lim >= ds.lastSeq {
		return nil
	}
	if err := d.waitJournalRoom(); err != nil {
		return err
	}
	if d.jr == nil || d.broken {
		if d.err != nil && !d.retry(m.now()) {
			return d.err
		}
		return d.checkpoint(false) // names every stream's new reservation
	}
	if d.syncFailed && !d.retry(m.now()) {
		return d.err
	}
	type raise struct {
		idx uint16
		to  uint64
	}
	var raises []raise
	for i := range d.st {
		ds := &d.st[i]
		if ds.lim >= ds.lastSeq {
			continue
		}
		to := ds.lastSeq + d.headroom(ds)
		ds.bumping = max(ds.bumping, to)
		raises = append(raises, raise{uint16(i), to})
		d.jput(binary.LittleEndian.AppendUint64(d.entry(jReserve, m.at(uint16(i))), to))
	}
	err := d.commit()
	for _, r := range raises {
		ds := &d.st[r.idx]
		if err == nil && !d.broken {
			ds.lim = max(ds.lim, r.to)
		}
		if ds.bumping == r.to {
			ds.bumping = 0
		}
	}
	return err
}
