package mm2_test

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// fullRetryMs is at least the disk tier's retry interval after a disk
// error: advancing the clock by it lets the next write try the disk again.
const fullRetryMs = 1000

// fullValue is the value of record seq of a stream, so every record read back
// can be checked against its sequence number.
func fullValue(id mm2.StreamID, seq uint64) uint32 { return uint32(seq)*2654435761 ^ id.Sensor<<24 }

// fullEventTime is the timestamp written with event seq.
func fullEventTime(seq uint64) int64 { return 1_600_000_000_000 + int64(seq)*10 }

// fullStream is a stream of a fullStore and the sequence numbers whose write
// returned nil.
type fullStream struct {
	id      mm2.StreamID
	kind    mm2.Kind
	h       *mm2.Stream
	next    uint64   // the number the next write gets
	written []uint64 // every number whose write returned nil, in order
	drops   uint64   // counted drops, read before the manager closes
}

// fullStore is a disk store on a fault-injecting in-memory filesystem with
// a clock the test drives by hand.
type fullStore struct {
	t       *testing.T
	clk     *testClock
	fault   *vfs.FaultFS
	opts    mm2.Options
	m       *mm2.Manager
	streams []*fullStream
}

func newFullStore(t *testing.T) *fullStore {
	t.Helper()
	f := &fullStore{t: t, clk: newClock(0), fault: vfs.NewFaultFS(vfs.NewMem())}
	f.opts = diskOpts(f.clk) // 32 sectors: the pool reaches the spill threshold after a few writes
	f.opts.DiskCapBytes = 1 << 20
	f.reopen()
	return f
}

// reopen opens the store (again) as f.m, through the kit's opener: a
// manager the test leaves open must pass Check when it ends.
func (f *fullStore) reopen() *mm2.Manager {
	f.t.Helper()
	f.m = openStore(f.t, f.opts, f.fault)
	return f.m
}

func (f *fullStore) add(id mm2.StreamID, kind mm2.Kind) *fullStream {
	f.t.Helper()
	period := time.Duration(0)
	if kind == mm2.TSD {
		period = 100 * time.Millisecond
	}
	h, err := f.m.Configure(id, kind, period)
	if err != nil {
		f.t.Fatal(err)
	}
	s := &fullStream{id: id, kind: kind, h: h, next: h.Stats().Written + 1}
	f.streams = append(f.streams, s)
	return s
}

// write writes the next record of s. A write that fails must fail with a
// disk error accepted by ok and store nothing.
func (f *fullStore) write(s *fullStream, ok func(error) bool) error {
	f.t.Helper()
	var err error
	if s.kind == mm2.TSD {
		err = s.h.WriteTSD(fullValue(s.id, s.next))
	} else {
		err = s.h.WriteEVT(fullValue(s.id, s.next), fullEventTime(s.next))
	}
	if err == nil {
		s.written = append(s.written, s.next)
		s.next++
		return nil
	}
	if !ok(err) {
		f.t.Fatalf("write %v seq %d: unexpected error %v", s.id, s.next, err)
	}
	if w := s.h.Stats().Written; w != s.next-1 {
		f.t.Fatalf("write %v seq %d failed (%v) but the stream's newest is now %d: a failed write stored something", s.id, s.next, err, w)
	}
	return err
}

// round writes one record to each of the given streams and moves the clock
// on by one TSD period.
func (f *fullStore) round(ok func(error) bool, streams ...*fullStream) (failed int) {
	f.t.Helper()
	for _, s := range streams {
		if f.write(s, ok) != nil {
			failed++
		}
	}
	f.clk.add(100)
	return failed
}

func (f *fullStore) check(step string) {
	f.t.Helper()
	if err := f.m.Check(); err != nil {
		f.t.Fatalf("Check %s: %v", step, err)
	}
}

// reopenAndVerify closes the store with the fault cleared, opens it again and
// drains every stream: each record comes back once, in order, with the value
// and (events) the timestamp it was written with, and every written record
// is either delivered or counted as dropped. Nothing is reported damaged.
func (f *fullStore) reopenAndVerify() {
	t := f.t
	t.Helper()
	for _, s := range f.streams {
		s.drops = s.h.Stats().Drops.Total()
	}
	if err := f.m.Close(); err != nil {
		t.Fatalf("Close after the disk recovered: %v", err)
	}
	m := f.reopen()
	if dmg := m.Damage(); len(dmg) > 0 {
		t.Fatalf("reopen found damage after a full or failing disk: %v", dmg)
	}
	f.check("after reopen")
	for _, s := range f.streams {
		got := drainID(t, m, s.id, drainHow{ack: true, check: m})
		if err := fullDelivered(s, got); err != nil {
			t.Fatal(err)
		}
	}
	f.check("after draining")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// fullDelivered compares what a stream delivered with what was written.
func fullDelivered(s *fullStream, got []mm2.Sample) error {
	written := map[uint64]bool{}
	for _, q := range s.written {
		written[q] = true
	}
	for i, smp := range got {
		if !written[smp.Seq] {
			return fmt.Errorf("%v delivered seq %d, whose write did not succeed", s.id, smp.Seq)
		}
		if i > 0 && smp.Seq <= got[i-1].Seq {
			return fmt.Errorf("%v delivered seq %d after %d", s.id, smp.Seq, got[i-1].Seq)
		}
		if smp.Value != fullValue(s.id, smp.Seq) {
			return fmt.Errorf("%v seq %d: value %#x, want %#x", s.id, smp.Seq, smp.Value, fullValue(s.id, smp.Seq))
		}
		if s.kind == mm2.EVT && smp.UTCms != fullEventTime(smp.Seq) {
			return fmt.Errorf("%v seq %d: time %d, want %d", s.id, smp.Seq, smp.UTCms, fullEventTime(smp.Seq))
		}
	}
	if uint64(len(got))+s.drops != uint64(len(s.written)) {
		return fmt.Errorf("%v: %d delivered + %d counted drops != %d written", s.id, len(got), s.drops, len(s.written))
	}
	if len(got) > 0 && got[len(got)-1].Seq != s.written[len(s.written)-1] {
		return fmt.Errorf("%v: newest delivered is seq %d, newest written %d", s.id, got[len(got)-1].Seq, s.written[len(s.written)-1])
	}
	return nil
}

// diskFault is a way for the disk to fail and the error writes then return.
type diskFault struct {
	inject, clear func(*vfs.FaultFS)
	ok            func(error) bool // a write error this fault may cause
	full          bool             // Stats().DiskFull while it lasts
	// ramFallback: while the disk fails no write is refused (nothing is
	// pending) and the RAM policy drops the oldest records, counted.
	ramFallback bool
}

func isDiskFull(err error) bool { return errors.Is(err, mm2.ErrDiskFull) }
func isEIO(err error) bool      { return errors.Is(err, syscall.EIO) }

var (
	diskFullNow = diskFault{ // no byte left: nothing of a frame reaches the file
		inject: func(fs *vfs.FaultFS) { fs.SetSpace(0) },
		clear:  func(fs *vfs.FaultFS) { fs.SetSpace(-1) },
		ok:     isDiskFull,
		full:   true,
	}
	diskFillsUp = diskFault{ // 2 KB left: the write that fills the disk is cut short
		inject: func(fs *vfs.FaultFS) { fs.SetSpace(2 << 10) },
		clear:  func(fs *vfs.FaultFS) { fs.SetSpace(-1) },
		ok:     isDiskFull,
		full:   true,
	}
	diskEIO = diskFault{
		inject: func(fs *vfs.FaultFS) {
			fs.FailIf(func(op vfs.Op, _ string) bool { return op == vfs.OpWrite || op == vfs.OpSync })
		},
		clear: func(fs *vfs.FaultFS) { fs.FailIf(nil) },
		ok:    isEIO,
	}
)

// spilledStore is a healthy store with a TSD and an EVT stream that have
// spilled 1,500 records each to disk.
func spilledStore(t *testing.T) (*fullStore, *fullStream, *fullStream) {
	f := newFullStore(t)
	tsd := f.add(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD)
	evt := f.add(mm2.StreamID{Source: mm2.CAN, Sensor: 2}, mm2.EVT)
	for i := 0; i < 1500; i++ {
		f.round(func(error) bool { return false }, tsd, evt)
	}
	return f, tsd, evt
}

// runDiskFault spills two streams to disk, makes the disk fail while they
// and a third stream go on writing past the spill threshold, then lets the
// disk recover and checks that spilling resumes with no call but writes and
// that nothing stored was damaged.
func runDiskFault(t *testing.T, fault diskFault) {
	f, tsd, evt := spilledStore(t)
	never := func(error) bool { return false }
	f.check("after spilling")
	before := f.m.Stats()
	if before.DiskRecords == 0 || before.DiskError != "" {
		t.Fatalf("healthy phase: %d records on disk, disk error %q", before.DiskRecords, before.DiskError)
	}

	// The disk fails. A third stream starts writing while it is down.
	fault.inject(f.fault)
	late := f.add(mm2.StreamID{Source: mm2.BLE, Sensor: 3}, mm2.TSD)
	ok := fault.ok
	if fault.ramFallback {
		ok = never
	}
	failed, seen, stored := 0, false, 0
	for i := 0; i < 1500; i++ {
		n := f.round(ok, tsd, evt, late)
		failed += n
		stored += 3 - n
		st := f.m.Stats()
		if st.DiskError != "" {
			seen = true
			if st.DiskFull != fault.full {
				t.Fatalf("disk error %q: DiskFull %v, want %v", st.DiskError, st.DiskFull, fault.full)
			}
		}
		if i%100 == 0 {
			f.check(fmt.Sprintf("while the disk fails, round %d", i))
		}
	}
	during := f.m.Stats()
	if !seen || during.DiskError == "" {
		t.Fatalf("the fault never showed in Stats: %q", during.DiskError)
	}
	if fault.full && !during.DiskFull {
		t.Fatalf("disk full not shown: %q", during.DiskError)
	}
	if stored == 0 {
		t.Fatalf("no write succeeded while the disk failed")
	}
	ramDrops := during.Drops.RAMFull - before.Drops.RAMFull
	if fault.ramFallback && ramDrops == 0 {
		t.Fatalf("no record dropped by the RAM policy while the disk failed (%d writes stored)", stored)
	}
	t.Logf("disk down: %d writes stored, %d refused with %q, %d records dropped oldest-first; DiskFull %v",
		stored, failed, during.DiskError, ramDrops, during.DiskFull)

	// The disk comes back: after the retry interval, writes alone bring the
	// tier back, and new records reach disk.
	fault.clear(f.fault)
	f.clk.add(fullRetryMs)
	written := during.BytesWritten
	cleared := -1
	for i := 0; i < 1500; i++ {
		f.round(never, tsd, evt, late)
		if st := f.m.Stats(); cleared < 0 && st.DiskError == "" && !st.DiskFull {
			cleared = i
		}
	}
	after := f.m.Stats()
	if cleared < 0 || after.DiskError != "" {
		t.Fatalf("disk error never cleared after the disk recovered: %q", after.DiskError)
	}
	if after.BytesWritten <= written || after.DiskRecords == 0 {
		t.Fatalf("nothing reached disk after it recovered: %d bytes written (was %d), %d records on disk",
			after.BytesWritten, written, after.DiskRecords)
	}
	if late.h.Stats().SectorsDisk == 0 {
		t.Fatalf("the stream started during the fault never spilled after recovery")
	}
	t.Logf("recovered after %d rounds; %d records on disk in %d files", cleared+1, after.DiskRecords, after.DiskFiles)
	f.check("after recovery")
	f.reopenAndVerify()
}

// TestDiskFullShowsInStatsKeepsDataAndSpillsAgainWhenSpaceReturns: with no
// space left, Stats shows DiskFull and the error, a refused write stores
// nothing, nothing already stored is damaged, and once space returns
// spilling resumes by itself after the retry interval.
func TestDiskFullShowsInStatsKeepsDataAndSpillsAgainWhenSpaceReturns(t *testing.T) {
	runDiskFault(t, diskFullNow)
}

// TestDiskIOErrorShowsInStatsKeepsDataAndSpillsAgainWhenItStops: the same
// with every write and sync of the store failing with EIO.
func TestDiskIOErrorShowsInStatsKeepsDataAndSpillsAgainWhenItStops(t *testing.T) {
	runDiskFault(t, diskEIO)
}

// TestDiskFillingUpMidFrameLeavesNoHoleInTheSegment: when the disk fills
// part-way through a frame, the partial frame is cut and the next frame
// follows the last good one once space returns.
func TestDiskFillingUpMidFrameLeavesNoHoleInTheSegment(t *testing.T) {
	runDiskFault(t, diskFillsUp)
}

// TestSyncAlwaysFailedSyncLeavesNoHoleInTheSegment: under SyncAlways a write
// whose sync fails is stored and says ErrNotDurable; later writes are
// refused until a sync succeeds, which makes that record durable too:
// reopening finds no damage and every record.
func TestSyncAlwaysFailedSyncLeavesNoHoleInTheSegment(t *testing.T) {
	f := newFullStore(t)
	if err := f.m.Close(); err != nil {
		t.Fatal(err)
	}
	f.opts.Sync = mm2.SyncAlways()
	f.reopen()
	s := f.add(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.EVT)
	never := func(error) bool { return false }
	for i := 0; i < 10; i++ {
		f.round(never, s)
	}
	f.fault.FailIf(func(op vfs.Op, _ string) bool { return op == vfs.OpSync })
	// The write is stored, and says it is not durable yet.
	err := s.h.WriteEVT(fullValue(s.id, s.next), fullEventTime(s.next))
	if !errors.Is(err, mm2.ErrNotDurable) || !isEIO(err) {
		t.Fatalf("a write whose sync failed returned %v under SyncAlways, want ErrNotDurable wrapping EIO", err)
	}
	if w := s.h.Stats().Written; w != s.next {
		t.Fatalf("the write that could not be synced was not stored: newest %d, want %d", w, s.next)
	}
	s.written = append(s.written, s.next)
	s.next++
	// While the sync fails, further writes are refused and store nothing.
	if f.write(s, func(err error) bool { return errors.Is(err, mm2.ErrNotDurable) }) == nil {
		t.Fatal("a write was taken while its sync could not succeed")
	}
	f.fault.FailIf(nil)
	f.clk.add(fullRetryMs)
	for i := 0; i < 10; i++ {
		f.round(never, s)
	}
	f.check("after the failed sync")
	f.reopenAndVerify()
}

// R-23 for a stream whose records are on disk: when the filesystem fills
// up, its writes go on (a frame that cannot be written makes room by
// dropping the oldest segment, counted as Drops.DiskCap, as the cap would)
// instead of failing with ErrDiskFull; Stats shows the condition; every
// record written is delivered after the disk recovers or counted dropped.
func TestDiskFullDropsOldestSegmentForStreamsOnDisk(t *testing.T) {
	f, tsd, evt := spilledStore(t)
	never := func(error) bool { return false }
	before := f.m.Stats()
	if before.DiskFiles < 3 {
		t.Fatalf("only %d segments after spilling", before.DiskFiles)
	}
	f.fault.FreeOnRemove(true)
	f.fault.SetSpace(0)
	seen := 0
	for i := 0; i < 3000; i++ {
		f.round(never, tsd, evt) // every write succeeds
		if st := f.m.Stats(); st.DiskFull && st.DiskError != "" {
			seen++
		}
		if i%200 == 0 {
			f.check(fmt.Sprintf("disk full, round %d", i))
		}
	}
	during := f.m.Stats()
	if seen == 0 {
		t.Fatal("the full disk never showed in Stats")
	}
	if d := during.Drops.DiskCap - before.Drops.DiskCap; d == 0 {
		t.Fatal("no segment dropped although the writes went on")
	}
	if during.DiskBytes > before.DiskBytes {
		t.Fatalf("the store grew on a full disk: %d bytes, %d before", during.DiskBytes, before.DiskBytes)
	}
	t.Logf("disk full: 6,000 writes stored, %d records dropped with the oldest segments (%d files left)",
		during.Drops.DiskCap-before.Drops.DiskCap, during.DiskFiles)
	f.fault.SetSpace(-1)
	f.clk.add(fullRetryMs)
	for i := 0; i < 300; i++ {
		f.round(never, tsd, evt)
	}
	if st := f.m.Stats(); st.DiskError != "" {
		t.Fatalf("the disk error stays after space returned: %q", st.DiskError)
	}
	f.reopenAndVerify()
}

// Where removing a segment gives no space back (another holder of the
// blocks), one segment is dropped in vain and no more: the writes then fail
// with ErrDiskFull until a frame is written again.
func TestDiskFullDropsNoMoreWhenRemovingFreesNothing(t *testing.T) {
	f := newFullStore(t)
	tsd := f.add(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD)
	never := func(error) bool { return false }
	for i := 0; i < 3000; i++ {
		f.round(never, tsd)
	}
	files := f.m.Stats().DiskFiles
	f.fault.SetSpace(0)
	for i := 0; i < 3000; i++ {
		f.round(isDiskFull, tsd)
	}
	if st := f.m.Stats(); st.DiskFiles < files-1 {
		t.Fatalf("%d segments left of %d: dropping went on although it freed nothing", st.DiskFiles, files)
	}
	f.fault.SetSpace(-1)
	f.reopenAndVerify()
}
