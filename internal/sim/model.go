// Package sim drives a Manager with seeded workloads and checks it against a
// plain reference model: a slice of records per stream. The randomized tests,
// `mm2 stress` and the simulation share it.
package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// Rec is one record as the model remembers it.
type Rec struct {
	V   uint32
	TS  int64
	Seq uint64
}

// MStream is the model of one stream.
type MStream struct {
	ID       mm2.StreamID
	Kind     mm2.Kind
	Period   int64
	H        *mm2.Stream
	Recs     []Rec          // unacknowledged, oldest first; the first Pending are pending
	History  map[uint64]Rec // every record written, by sequence number (disk models)
	Pending  int
	Seq      uint64 // last sequence number written
	Drops    uint64 // records the manager dropped (ram-full)
	CapDrops uint64 // records dropped with the oldest segment (disk-cap)
	// Seen is the newest number a reader was shown while the disk could
	// sync: no crash may give it to another record.
	Seen uint64
}

// Unread is how many records the model expects unread.
func (s *MStream) Unread() int { return len(s.Recs) - s.Pending }

// Model is the reference the manager is compared with after every operation.
// Every method returns a non-nil error when the manager diverges from it.
type Model struct {
	M        *mm2.Manager
	Opts     mm2.Options
	Now      int64 // the manager's clock, UTC ms
	Streams  []*MStream
	ByID     map[mm2.StreamID]*MStream
	GPS      map[mm2.Source]mm2.GPSConfig
	UTC      bool
	Powering bool

	// Disk models: the store's filesystem (what survives a crash is taken
	// from Mem), a fault layer over it, and whether the durable state may
	// differ from the model (writes or ACKs since the last clean checkpoint
	// under a policy weaker than SyncAlways, or a disk error).
	Mem   *vfs.MemFS
	Fault *vfs.FaultFS
	Dirty bool
	// Failing: the disk failed syncs since the last reopen; numbers read
	// meanwhile may be given to other records by a power cut before the
	// next successful sync, which the model cannot see.
	Failing bool

	// What the run reached.
	Writes, Compared, DropEvents, FullErrors, Dropped int64
	DropsBehind                                       int64 // drop events of a stream with a batch in flight
	SegmentDrops                                      int64 // streams' records dropped with a segment on a full disk
	DiskErrors, Reopens, Crashes                      int64
}

// NewModel opens a manager with opts, its clock driven by the model. With
// opts.Dir set the disk backend runs on an in-memory filesystem.
func NewModel(opts mm2.Options) (*Model, error) {
	md := &Model{Now: 1_700_000_000_000, ByID: map[mm2.StreamID]*MStream{}, GPS: map[mm2.Source]mm2.GPSConfig{}}
	opts.Clock = func() time.Time { return time.UnixMilli(md.Now) }
	md.Mem = vfs.NewMem()
	md.Fault = vfs.NewFaultFS(md.Mem)
	m, err := mm2.OpenFS(opts, md.Fault)
	if err != nil {
		return nil, err
	}
	md.M, md.Opts = m, opts
	md.UTC = !m.Profile().NeedUTC
	return md, nil
}

func (md *Model) maxStreams() int { return md.M.Profile().MaxStreams }

// Configure declares a stream in both.
func (md *Model) Configure(id mm2.StreamID, kind mm2.Kind, period time.Duration) error {
	h, err := md.M.Configure(id, kind, period)
	if s, ok := md.ByID[id]; ok {
		if s.Kind != kind || (kind == mm2.TSD && s.Period != period.Milliseconds()) {
			if !errors.Is(err, mm2.ErrKindMismatch) {
				return fmt.Errorf("reconfigure %v as %v/%v: %v, want ErrKindMismatch", id, kind, period, err)
			}
			return nil
		}
		if err != nil || h != s.H {
			return fmt.Errorf("reconfigure %v: handle %p err %v, want %p", id, h, err, s.H)
		}
		return nil
	}
	if len(md.Streams) >= md.maxStreams() {
		if !errors.Is(err, mm2.ErrFull) {
			return fmt.Errorf("configure beyond max streams: %v", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("configure %v: %v", id, err)
	}
	// A new stream's first number is the store's (on disk, a stream
	// configured after a checkpoint starts past any number a lost stream
	// of the same name could have handed out).
	s := &MStream{ID: id, Kind: kind, Period: period.Milliseconds(), H: h, Seq: h.Stats().Written}
	md.Streams = append(md.Streams, s)
	md.ByID[id] = s
	return nil
}

// writeErr is the error a write must fail with regardless of space, or nil.
func (md *Model) writeErr(s *MStream, kind mm2.Kind) error {
	switch {
	case md.Powering:
		return mm2.ErrPoweringDown
	case !md.UTC:
		return mm2.ErrUTCNotAvailable
	case s.Kind != kind:
		return mm2.ErrKindMismatch
	}
	return nil
}

// write runs one write through the manager (do) and the model. targets
// receive vals[i] at ts if it succeeds.
// partial: the call writes its targets in turn and may stop part-way,
// keeping the ones before (a WriteBatch; a GPS group on the disk backend).
func (md *Model) write(writer *MStream, kind mm2.Kind, targets []*MStream, vals []uint32, ts int64, partial bool, do func() error) error {
	before := md.M.Stats()
	free := before.SectorsFree
	// The writer's own data goes first when it has unsent records in RAM
	// (on the disk backend they may all be on disk). Only a write that may
	// need a new sector can drop anything.
	// (A group write on the disk backend allocates for each target in turn,
	// each the writing stream of its own allocation.)
	// With a batch in flight, unsent records behind it are dropped too
	// enough of them (the rest of the batch's last sector and two
	// more sectors) guarantee a sector can be freed there.
	writerDroppable := (writer.Pending == 0 && len(writer.Recs) > 0 || writer.Unread() > 3*maxSectorRecords) &&
		free < len(targets) &&
		(md.Opts.Dir == "" && !partial || len(targets) == 1 && writer.Pending == 0) &&
		(md.Opts.Dir == "" || writer.H.Stats().SectorsRAM > 0)
	writerDrops := writer.Drops
	err := do()
	if want := md.writeErr(writer, kind); want != nil {
		if !errors.Is(err, want) {
			return fmt.Errorf("write to %v: %v, want %v", writer.ID, err, want)
		}
		return nil
	}
	if err != nil && !errors.Is(err, mm2.ErrFull) && !md.diskError(err) {
		return fmt.Errorf("write to %v: %v", writer.ID, err)
	}
	dropped := false
	after := md.M.Stats()
	// A group written in turn (WriteBatch, GPS on the disk backend) can
	// drop, for a later target's sector, records an earlier target just
	// stored: learn what it stored before learning the drops.
	group := partial && len(targets) > 1
	if group {
		md.keep(targets, vals, ts)
	}
	if after.Drops.DiskCap != before.Drops.DiskCap {
		// A full filesystem made room for a frame by dropping the oldest
		// segment: learn and check each stream's dropped run.
		for _, s := range md.Streams {
			if d := s.H.Stats().Drops.DiskCap - s.CapDrops; d > 0 {
				s.CapDrops += d
				md.Dropped += int64(d)
				md.SegmentDrops++
				if err := md.droppedFront(s, int(d)); err != nil {
					return err
				}
			}
		}
	}
	for _, s := range md.Streams {
		if after.Drops.RAMFull == before.Drops.RAMFull {
			break // no stream dropped anything
		}
		d := s.H.Stats().Drops.RAMFull - s.Drops
		if d == 0 {
			continue
		}
		dropped = true
		md.DropEvents++
		if s.Pending > 0 {
			md.DropsBehind++
		}
		md.Dropped += int64(d)
		s.Drops += d
		switch {
		case md.Opts.Overflow == mm2.RejectNew:
			return fmt.Errorf("%v: %d records dropped under RejectNew", s.ID, d)
		case d > uint64(s.Unread()):
			return fmt.Errorf("%v: %d dropped of %d unsent (%d pending)", s.ID, d, s.Unread(), s.Pending)
		}
		if err := md.dropped(s, int(d)); err != nil {
			return err
		}
	}
	if dropped && writerDroppable && writer.Drops == writerDrops {
		return fmt.Errorf("dropped from other streams although the writer %v had unsent data in RAM (now %+v, free before %d)",
			writer.ID, writer.H.Stats(), free)
	}
	// (With the disk failing, a write may move its stream's frame being
	// filled into RAM, which takes more than its own sector.)
	if dropped && free >= len(targets) && after.DiskError == "" {
		return fmt.Errorf("dropped with %d free sectors for a %d-record write", free, len(targets))
	}
	if err != nil {
		// A group write (GPS) on the disk tier writes its five in turn and
		// may stop part-way, on a disk error or on a full pool (the disk
		// failing, RejectNew): learn what the manager kept.
		groupFull := errors.Is(err, mm2.ErrFull) && group
		if md.diskError(err) || groupFull {
			// Nothing of this write was stored, except in such a group write.
			if groupFull {
				md.FullErrors++
			} else {
				md.DiskErrors++
			}
			md.Dirty = true // what was kept may have gone to RAM
			if !group {
				md.keep(targets, vals, ts)
			}
			return nil
		}
		md.FullErrors++
		if free >= len(targets) {
			return fmt.Errorf("ErrFull with %d free sectors", free)
		}
		return nil
	}
	md.Writes++
	// Under SyncAlways a write is durable unless the disk is failing, when
	// it falls back to RAM.
	md.Dirty = md.Dirty || !md.always() || after.DiskError != ""
	if !group {
		for i, s := range targets {
			s.Seq++
			md.store(s, Rec{V: vals[i], TS: ts, Seq: s.Seq})
		}
	}
	return nil
}

// keep learns which records of a write to targets the manager stored (by
// each stream's newest number: the stored ones are the first, in order).
func (md *Model) keep(targets []*MStream, vals []uint32, ts int64) {
	kept := map[*MStream]uint64{}
	for _, s := range targets {
		if _, ok := kept[s]; !ok {
			kept[s] = s.H.Stats().Written - s.Seq
		}
	}
	for i, s := range targets {
		if kept[s] > 0 {
			kept[s]--
			s.Seq++
			md.store(s, Rec{V: vals[i], TS: ts, Seq: s.Seq})
		}
	}
}

// maxSectorRecords is the most records a 32-byte sector holds (6 TSD).
const maxSectorRecords = 6

// dropped learns which d unsent records of s the manager dropped and checks
// the drop: a run of consecutive unsent records (a sector's, or two when a
// gap opens) starting in the first sector behind the batch in flight, so
// at most a sector's records after the first unsent one (two on the disk backend, see below). It peeks at what
// is left to find the run, and takes it out of the model.
func (md *Model) dropped(s *MStream, d int) error {
	unsent := s.Recs[s.Pending:]
	want := min(len(unsent)-d, d+2*maxSectorRecords)
	got := make([]mm2.Sample, max(want, 1))
	n, err := s.H.PeekBulk(got)
	if want == 0 {
		n, err = 0, nil
	}
	if err != nil && md.diskError(err) {
		// The disk part cannot be read now; the drop is RAM's, at the
		// front of the unsent records whenever the model could see it.
		n = 0
		want = 0
	} else if err != nil || n < want {
		return fmt.Errorf("%v: peek after a drop of %d: %d, %v; want %d", s.ID, d, n, err, want)
	}
	k := 0
	for k < n && got[k].Seq == unsent[k].Seq {
		k++
	}
	// On the disk backend a frame moved to RAM may lose its oldest
	// records while the RAM part keeps its last sector behind a batch
	// (freeing that one sector would take a gap sector): a sector more.
	limit := maxSectorRecords - 1
	if md.Opts.Dir != "" {
		limit = 2*maxSectorRecords - 1
	}
	if k > limit && k < n {
		return fmt.Errorf("%v: %d records dropped from %d records behind the first unsent one (seq %d)",
			s.ID, d, k, unsent[0].Seq)
	}
	if k == n && want > 0 && n == len(unsent)-d {
		// Every record peeked is kept: the run was the newest unsent.
		k = n
	}
	for i := k; i < n; i++ {
		if err := md.Compare(s, got[i], unsent[i+d], "record kept by a drop"); err != nil {
			return err
		}
	}
	rest := append(append([]Rec{}, s.Recs[:s.Pending+k]...), unsent[k+d:]...)
	s.Recs = rest
	return nil
}

// droppedFront learns which d records of s a segment drop took: a run of
// consecutive records, pending ones included (a segment holds the oldest
// records of the disk part, which follows the RAM part). To see the pending
// records too it NACKs the batch, peeks at everything and reads the batch
// again (the same records, with the same numbers, are pending after it);
// the run must leave exactly that, and is taken out of the model.
func (md *Model) droppedFront(s *MStream, d int) error {
	pend := s.H.Counts().Pending
	if pend > 0 {
		if n, err := s.H.Nack(); err != nil || n != pend {
			return fmt.Errorf("%v: nack after a segment drop: %d, %v", s.ID, n, err)
		}
	}
	all := make([]mm2.Sample, len(s.Recs)+5)
	n, err := s.H.PeekBulk(all)
	if err != nil && !errors.Is(err, mm2.ErrNoData) {
		return fmt.Errorf("%v: peek after %d records dropped with a segment: %v", s.ID, d, err)
	}
	if pend > 0 {
		if k, err := s.H.ReadBulk(make([]mm2.Sample, pend)); err != nil || k != pend {
			return fmt.Errorf("%v: reading the batch again after a segment drop: %d, %v", s.ID, k, err)
		}
	}
	// The same write may also have dropped r of the stream's unsent RAM
	// records (R-23: the disk gave no room, so the RAM policy made some):
	// a second run, learned here with the first.
	r := int(s.H.Stats().Drops.RAMFull - s.Drops)
	for k := 0; k+d <= len(s.Recs); k++ {
		rest := append(append([]Rec{}, s.Recs[:k]...), s.Recs[k+d:]...)
		for j := 0; j+r <= len(rest); j++ {
			kept := append(append([]Rec{}, rest[:j]...), rest[j+r:]...)
			// (A stream being written holds its new records after them: up
			// to five, a GPS write naming it twice.)
			if n < len(kept) || n > len(kept)+5 || pend != s.Pending-max(0, min(k+d, s.Pending)-k)-max(0, min(j+r, s.Pending)-j) {
				continue
			}
			ok := true
			for i, rec := range kept {
				ok = ok && all[i].Seq == rec.Seq && all[i].Value == rec.V
			}
			if ok {
				s.Recs, s.Pending = kept, pend
				if r > 0 {
					s.Drops += uint64(r)
					md.Dropped += int64(r)
					md.DropEvents++
				}
				return nil
			}
			if r == 0 {
				break
			}
		}
	}
	return fmt.Errorf("%v: no run of %d consecutive records (and %d dropped from RAM) explains a segment drop (%d pending, %d left)", s.ID, d, r, pend, n)
}

// WriteTSD writes v to s at the model's clock.
func (md *Model) WriteTSD(s *MStream, v uint32) error {
	return md.write(s, mm2.TSD, []*MStream{s}, []uint32{v}, md.Now, false, func() error { return s.H.WriteTSD(v) })
}

// WriteEVT writes v at ts to s.
func (md *Model) WriteEVT(s *MStream, v uint32, ts int64) error {
	return md.write(s, mm2.EVT, []*MStream{s}, []uint32{v}, ts, false, func() error { return s.H.WriteEVT(v, ts) })
}

// WriteBatch writes v at ts to s with Manager.WriteBatch, as a batch of
// one: the model holds it to what the single write of s's kind does (a
// TSD stream's ts is the model's clock, as WriteTSD's would be). It stores
// exactly one sample or, with an error, none (one under ErrNotDurable).
func (md *Model) WriteBatch(s *MStream, v uint32, ts int64) error {
	return md.write(s, s.Kind, []*MStream{s}, []uint32{v}, ts, false, func() error {
		n, err := md.M.WriteBatch([]mm2.Write{{Stream: s.H, Value: v, UTCms: ts}})
		switch {
		case err == nil && n != 1:
			return fmt.Errorf("WriteBatch stored %d of 1 sample without an error", n)
		case err != nil && n != 0 && !errors.Is(err, mm2.ErrNotDurable):
			return fmt.Errorf("WriteBatch stored %d sample(s) and failed: %v", n, err)
		}
		return err
	})
}

// WriteBatchGroup writes one sample to each of targets (distinct streams
// of one kind, a bus cycle's) at ts with one Manager.WriteBatch: the way a
// gateway batches. The samples are stored in turn; an error part-way keeps
// the ones before it (WriteBatch returns how many).
func (md *Model) WriteBatchGroup(targets []*MStream, vals []uint32, ts int64) error {
	ws := make([]mm2.Write, len(targets))
	for i, s := range targets {
		ws[i] = mm2.Write{Stream: s.H, Value: vals[i], UTCms: ts}
	}
	return md.write(targets[0], targets[0].Kind, targets, vals, ts, true, func() error {
		n, err := md.M.WriteBatch(ws)
		if err == nil && n != len(ws) {
			return fmt.Errorf("WriteBatch stored %d of %d samples without an error", n, len(ws))
		}
		return err
	})
}

// WriteGPS writes v with a fix to s.
func (md *Model) WriteGPS(s *MStream, v uint32, fix mm2.GPSFix) error {
	targets, vals := []*MStream{s}, []uint32{v}
	if cfg, ok := md.GPS[s.ID.Source]; ok {
		f := [4]float32{fix.Latitude, fix.Longitude, fix.Altitude, fix.Speed}
		for i, sn := range [4]uint32{cfg.Latitude, cfg.Longitude, cfg.Altitude, cfg.Speed} {
			targets = append(targets, md.ByID[mm2.StreamID{Source: s.ID.Source, Sensor: sn}])
			vals = append(vals, math.Float32bits(f[i]))
		}
	}
	return md.write(s, mm2.EVT, targets, vals, md.Now, md.Opts.Dir != "", func() error { return s.H.WriteEventWithGPS(v, fix) })
}

// SetGPS configures the GPS sensors of src in both.
func (md *Model) SetGPS(src mm2.Source, cfg mm2.GPSConfig) error {
	err := md.M.SetGPS(src, cfg)
	sensors := [4]uint32{cfg.Latitude, cfg.Longitude, cfg.Altitude, cfg.Speed}
	missing := 0
	for _, sn := range sensors {
		s, ok := md.ByID[mm2.StreamID{Source: src, Sensor: sn}]
		if ok && s.Kind != mm2.EVT {
			if !errors.Is(err, mm2.ErrKindMismatch) {
				return fmt.Errorf("SetGPS over a TSD stream: %v", err)
			}
			return nil
		}
		if !ok {
			missing++
		}
	}
	if len(md.Streams)+missing > md.maxStreams() {
		if !errors.Is(err, mm2.ErrFull) {
			return fmt.Errorf("SetGPS beyond max streams: %v", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("SetGPS: %v", err)
	}
	for _, sn := range sensors {
		if err := md.Configure(mm2.StreamID{Source: src, Sensor: sn}, mm2.EVT, 0); err != nil {
			return err
		}
	}
	md.GPS[src] = cfg
	return nil
}

// Compare checks one sample against the model's record: value and sequence
// exactly, the timestamp exactly for EVT and within ±period/2 for TSD.
func (md *Model) Compare(s *MStream, got mm2.Sample, want Rec, what string) error {
	md.Compared++
	ok := got.Value == want.V && got.Seq == want.Seq
	if s.Kind == mm2.TSD {
		d := got.UTCms - want.TS
		ok = ok && 2*max(d, -d) <= s.Period
	} else {
		ok = ok && got.UTCms == want.TS
	}
	if !ok {
		return fmt.Errorf("%s %v: got %+v, want %+v", what, s.ID, got, want)
	}
	if !md.Failing {
		s.Seen = max(s.Seen, got.Seq)
	}
	return nil
}

// Read reads one record from both.
func (md *Model) Read(s *MStream) error {
	got, err := s.H.Read()
	if s.Unread() == 0 {
		if !errors.Is(err, mm2.ErrNoData) {
			return fmt.Errorf("Read of empty %v: %v", s.ID, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("Read %v: %v", s.ID, err)
	}
	if err := md.Compare(s, got, s.Recs[s.Pending], "Read"); err != nil {
		return err
	}
	s.Pending++
	return nil
}

// ReadBulk reads up to len(buf) records from both.
func (md *Model) ReadBulk(s *MStream, buf []mm2.Sample) error {
	return md.bulk(s, buf, true)
}

// PeekBulk peeks up to len(buf) records in both.
func (md *Model) PeekBulk(s *MStream, buf []mm2.Sample) error {
	return md.bulk(s, buf, false)
}

func (md *Model) bulk(s *MStream, buf []mm2.Sample, read bool) error {
	op, call := "PeekBulk", s.H.PeekBulk
	if read {
		op, call = "ReadBulk", s.H.ReadBulk
	}
	n, err := call(buf)
	if s.Unread() == 0 {
		if !errors.Is(err, mm2.ErrNoData) || n != 0 {
			return fmt.Errorf("%s of empty %v: %d, %v", op, s.ID, n, err)
		}
		return nil
	}
	if want := min(len(buf), s.Unread()); err != nil || n != want {
		return fmt.Errorf("%s %v: %d, %v; want %d", op, s.ID, n, err, want)
	}
	for i := 0; i < n; i++ {
		if err := md.Compare(s, buf[i], s.Recs[s.Pending+i], op); err != nil {
			return err
		}
	}
	if read {
		s.Pending += n
	}
	return nil
}

// Peek peeks at the i-th unread record in both.
func (md *Model) Peek(s *MStream, i int) error {
	got, err := s.H.Peek(i)
	if i >= s.Unread() {
		if !errors.Is(err, mm2.ErrNoData) {
			return fmt.Errorf("Peek(%d) past %v: %v", i, s.ID, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("Peek(%d) %v: %v", i, s.ID, err)
	}
	return md.Compare(s, got, s.Recs[s.Pending+i], "Peek")
}

// Ack acknowledges in both.
func (md *Model) Ack(s *MStream) error {
	n, err := s.H.Ack()
	if s.Pending == 0 {
		if !errors.Is(err, mm2.ErrNoData) {
			return fmt.Errorf("Ack with nothing pending on %v: %d, %v", s.ID, n, err)
		}
		return nil
	}
	if err != nil && md.diskError(err) && n == s.Pending {
		md.DiskErrors++
		md.Dirty = true // acknowledged in memory, maybe not on disk
	} else if err != nil || n != s.Pending {
		return fmt.Errorf("Ack %v: %d, %v; want %d", s.ID, n, err, s.Pending)
	}
	md.Dirty = md.Dirty || !md.always()
	s.Recs = s.Recs[s.Pending:]
	s.Pending = 0
	return nil
}

// Nack reverts the pending records in both.
func (md *Model) Nack(s *MStream) error {
	n, err := s.H.Nack()
	if s.Pending == 0 {
		if !errors.Is(err, mm2.ErrNoData) {
			return fmt.Errorf("Nack with nothing pending on %v: %d, %v", s.ID, n, err)
		}
		return nil
	}
	if err != nil || n != s.Pending {
		return fmt.Errorf("Nack %v: %d, %v; want %d", s.ID, n, err, s.Pending)
	}
	s.Pending = 0
	return nil
}

// SetUTC tells both whether UTC is available.
func (md *Model) SetUTC(ok bool) {
	md.M.SetUTCAvailable(ok)
	md.UTC = ok || !md.M.Profile().NeedUTC
}

// TogglePower powers down, or aborts a power-down, in both.
func (md *Model) TogglePower() error {
	var err error
	if md.Powering {
		err = md.M.PowerAbort()
	} else {
		err = md.M.PowerDown(context.Background())
	}
	md.Powering = !md.Powering
	if err != nil {
		if !md.diskError(err) {
			return fmt.Errorf("power toggle: %v", err)
		}
		md.DiskErrors++
		md.Dirty = true
	} else if md.Powering && md.M.Stats().DiskError == "" {
		md.Dirty = false // a clean checkpoint holds exactly the model's state
	}
	return nil
}

// Check runs the manager's invariant walker and compares every stream's counts.
func (md *Model) Check() error {
	if err := md.M.Check(); err != nil {
		return fmt.Errorf("Check: %w", err)
	}
	for _, s := range md.Streams {
		c := s.H.Counts()
		want := mm2.Counts{New: s.Unread(), Pending: s.Pending, Total: len(s.Recs)}
		if c != want {
			return fmt.Errorf("%v counts %+v, model %+v", s.ID, c, want)
		}
		// Positions: they differ from the counts only by dropped
		// numbers. In RAM the newest number is exactly the model's.
		st := s.H.Stats()
		if st.Acked > st.Read || st.Read > st.Written || (md.Opts.Dir == "" && st.Written != s.Seq) {
			return fmt.Errorf("%v positions %+v, model wrote through %d", s.ID, st, s.Seq)
		}
		if s.Pending > 0 && st.Read != s.Recs[s.Pending-1].Seq {
			return fmt.Errorf("%v read through %d, the model's last pending is %d", s.ID, st.Read, s.Recs[s.Pending-1].Seq)
		}
	}
	return nil
}
