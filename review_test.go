package mm2_test

import (
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/spool"
	"github.com/mm2go/mm2/vfs"
)

// One test per finding of the disk-tier review (issue 10) that had none.

// Finding 1: an I/O error inside Ack left the rest of the batch neither
// pending nor unread. Now the ACK completes by sequence number: counts stay
// right and later reads, ACKs and Check are sound.
func TestAckWithReadErrorKeepsCountsRight(t *testing.T) {
	clk := newClock(100)
	opts := diskOpts(clk)
	opts.DiskCapBytes = 1 << 20
	fault := vfs.NewFaultFS(vfs.NewMem())
	m := mustOpen(t, opts, fault)
	s, _ := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, s, 20000)
	// Read far enough (15 segments of 4 KB) that the log's cache of
	// segments no longer holds the ones the ACK starts in: the ACK has to
	// read the first segments again.
	buf := make([]mm2.Sample, 15000)
	n, err := s.ReadBulk(buf)
	if err != nil || n != 15000 {
		t.Fatalf("ReadBulk: %d, %v", n, err)
	}
	failed := 0
	fault.FailIf(func(op vfs.Op, name string) bool {
		if op == vfs.OpRead && strings.Contains(name, "seg-") {
			failed++
			return true
		}
		return false
	})
	if k, err := s.Ack(); err != nil || k != 15000 {
		t.Fatalf("Ack during read errors: %d, %v", k, err)
	}
	fault.FailIf(nil)
	if failed == 0 {
		t.Fatal("the ACK met no read error: the test does not test")
	}
	if c := s.Counts(); c.Pending != 0 || c.New != 5000 {
		t.Fatalf("counts after the ACK: %+v, want 5000 unread", c)
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, drainID(t, m, s.ID(), drainHow{ack: true, check: m}), 15001, 20000)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// Finding 3: a failed flush of one stream's frame skipped the whole
// checkpoint at PowerDown, and a stream that never touched the disk lost
// its RAM records. Now the checkpoint holds the frames being filled too.
func TestFailedFlushDoesNotSkipTheCheckpoint(t *testing.T) {
	clk := newClock(100)
	opts := diskOpts(clk)
	fault := vfs.NewFaultFS(vfs.NewMem())
	m := mustOpen(t, opts, fault)
	// b never touches the disk: its records are written while the pool has
	// room; a spills afterwards and keeps a frame being filled.
	b, _ := m.Configure(mm2.StreamID{Source: mm2.Gateway, Sensor: 2}, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, b, 3)
	a, _ := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, a, 300)
	if st := b.Stats(); st.SectorsRAM == 0 || st.SectorsDisk != 0 {
		t.Fatalf("b is not a RAM-only stream: %+v", st)
	}
	if st := a.Stats(); st.SectorsDisk == 0 {
		t.Fatalf("a did not spill: %+v", st)
	}
	fault.FailIf(func(op vfs.Op, name string) bool { return op == vfs.OpWrite && strings.Contains(name, "seg-") })
	if err := m.PowerDown(t.Context()); err != nil {
		t.Fatalf("PowerDown with segment writes failing: %v", err)
	}
	if m.Stats().DiskError == "" {
		t.Fatal("no flush failed at PowerDown: the test does not test")
	}
	fault.FailIf(nil)
	m2 := mustOpen(t, opts, fault.Inner())
	wantSeqs(t, drainID(t, m2, a.ID(), drainHow{ack: true, check: m2}), 1, 300)
	wantSeqs(t, drainID(t, m2, b.ID(), drainHow{ack: true, check: m2}), 1, 3)
}

// Finding 5: segments were retired only from the front, so a stalled
// stream's few records kept every later, fully acknowledged segment.
func TestAcknowledgedSegmentsBehindAStalledStreamAreRetired(t *testing.T) {
	clk := newClock(100)
	opts := diskOpts(clk)
	m := mustOpen(t, opts, vfs.NewMem())
	stalled, _ := m.Configure(mm2.StreamID{Source: mm2.BLE, Sensor: 1}, mm2.TSD, 100*time.Millisecond)
	busy, _ := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 2}, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, busy, 200) // fill the pool so what follows spills
	writeSeqs(t, stalled, 40)
	if err := m.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := make([]mm2.Sample, 64)
	if _, err := stalled.ReadBulk(buf); err != nil { // in flight, never acknowledged
		t.Fatal(err)
	}
	for i := uint64(201); i <= 6000; i++ {
		if err := busy.WriteTSD(uint32(i * 7)); err != nil {
			t.Fatal(err)
		}
	}
	if st := m.Stats(); st.DiskFiles < 5 {
		t.Fatalf("only %d segments", st.DiskFiles)
	}
	wantSeqs(t, drainID(t, m, busy.ID(), drainHow{ack: true, check: m}), 1, 6000)
	if st := m.Stats(); st.DiskFiles > 2 {
		t.Fatalf("%d segments left after every record but the stalled stream's %d was acknowledged", st.DiskFiles, st.DiskRecords)
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
}

// Finding 8: idle interval ticks rewrote identical checkpoints. An idle
// store writes nothing, whatever the policy.
func TestIdleStoreWritesNothing(t *testing.T) {
	for _, pol := range []mm2.SyncPolicy{mm2.SyncOnPowerDown(), mm2.SyncInterval(time.Second), mm2.SyncAlways()} {
		clk := newClock(100)
		opts := diskOpts(clk)
		opts.Sync = pol
		m := mustOpen(t, opts, vfs.NewMem())
		s, _ := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, 100*time.Millisecond)
		writeSeqs(t, s, 500)
		for range 3 {
			clk.add(1000)
			if err := m.Tick(); err != nil {
				t.Fatal(err)
			}
		}
		before := m.Stats()
		for range 120 {
			clk.add(1000)
			if err := m.Tick(); err != nil {
				t.Fatal(err)
			}
		}
		after := m.Stats()
		if after.BytesWritten != before.BytesWritten || after.Syncs != before.Syncs || after.Checkpoints != before.Checkpoints {
			t.Fatalf("%v: two idle minutes wrote %d bytes, %d syncs, %d checkpoints", pol,
				after.BytesWritten-before.BytesWritten, after.Syncs-before.Syncs, after.Checkpoints-before.Checkpoints)
		}
		_ = m.Close()
	}
}

// Finding 9: fsck --repair removed a damaged newest checkpoint slot and the
// next Open reused numbers from the older one. The journal of the lost
// epoch still says numbers were handed out: numbering jumps past them.
func TestRepairedNewestCheckpointReusesNoNumber(t *testing.T) {
	clk := newClock(100)
	opts := diskOpts(clk)
	mem := vfs.NewMem()
	m := mustOpen(t, opts, mem)
	s, _ := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, s, 20)
	if err := m.Sync(); err != nil {
		t.Fatal(err)
	}
	// Crash (the manager is abandoned), reopen: a new checkpoint, more writes.
	mm2.WaitCheckpoint(m)
	m = mustOpen(t, opts, mem)
	s, _ = m.Configure(s.ID(), mm2.TSD, 100*time.Millisecond)
	for i := 21; i <= 40; i++ {
		if err := s.WriteTSD(uint32(i * 7)); err != nil {
			t.Fatal(err)
		}
	}
	newest := s.Stats().Written
	// Crash again; the newest checkpoint slot rots, and Repair removes it.
	mm2.WaitCheckpoint(m)
	slots := map[string]uint64{}
	for _, name := range spool.CheckpointNames {
		b, err := vfs.ReadFile(mem, path.Join("store", name))
		if err != nil {
			continue
		}
		cp, err := spool.DecodeCheckpoint(b)
		if err == nil {
			slots[name] = cp.Gen
		}
	}
	var victim string
	for name, gen := range slots {
		if victim == "" || gen > slots[victim] {
			victim = name
		}
	}
	b, _ := vfs.ReadFile(mem, path.Join("store", victim))
	b[len(b)-1] ^= 0xff
	f, _ := mem.Create(path.Join("store", victim))
	_, _ = f.Write(b)
	_ = f.Close()
	if rep, err := mm2.VerifyFS(mem, "store", true); err != nil || rep.Clean() {
		t.Fatalf("Repair: %v, %+v", err, rep)
	}
	m = mustOpen(t, opts, mem)
	s, _ = m.Configure(s.ID(), mm2.TSD, 100*time.Millisecond)
	if w := s.Stats().Written; w < newest {
		t.Fatalf("numbering resumes at %d, below %d handed out before the checkpoint was lost", w+1, newest)
	}
}

// Finding 10: a checkpoint or journal file of absurd size (a sparse 6 GB
// file) crashed Open with "out of memory". Now it is damage, reported.
func TestOversizedFilesAreDamageNotOutOfMemory(t *testing.T) {
	dir := t.TempDir()
	clk := newClock(100)
	opts := diskOpts(clk)
	opts.Dir = dir
	m := openStore(t, opts, nil)
	s, _ := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, s, 50)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{spool.CheckpointNames[0], spool.CheckpointNames[1]} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if err := os.Truncate(p, 6<<30); err != nil {
			t.Skipf("this filesystem cannot hold a sparse 6 GB file: %v", err)
		}
		defer func() { _ = os.Truncate(p, fi.Size()) }()
		m, err := mm2.Open(opts)
		if err != nil {
			t.Fatalf("Open with a 6 GB %s: %v", name, err)
		}
		if len(m.Damage()) == 0 {
			t.Fatalf("a 6 GB %s is not reported as damage", name)
		}
		wantSeqs(t, drainID(t, m, s.ID(), drainHow{check: m}), 1, 50)
		_ = m.Close()
		break
	}
}

// Format: a store written by the format-1 engine (testdata/store-v1: a
// RAM tier, a spilled segment, a clean checkpoint) opens with nothing lost,
// and reopens in the new format.
func TestFormatOneStoreIsUpgraded(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"seg-0000000000000001.mm2", "state-a.mm2", "state-b.mm2"} {
		copyFile(t, filepath.Join("testdata", "store-v1", name), filepath.Join(dir, name))
	}
	opts := mm2.Options{Profile: mm2.ProfileLinux, Dir: dir}
	for round := range 2 {
		m := openStore(t, opts, nil)
		if d := m.Damage(); len(d) != 0 {
			t.Fatalf("round %d: damage %v", round, d)
		}
		tsd := drainID(t, m, mm2.StreamID{Source: mm2.CAN, Sensor: 1}, drainHow{check: m})
		if len(tsd) != 19500 || tsd[0].Seq != 501 || tsd[len(tsd)-1].Seq != 20000 {
			t.Fatalf("round %d: TSD %d records", round, len(tsd))
		}
		for _, smp := range tsd {
			if smp.Value != uint32(smp.Seq-1) {
				t.Fatalf("round %d: TSD %+v", round, smp)
			}
		}
		evt := drainID(t, m, mm2.StreamID{Source: mm2.Gateway, Sensor: 2}, drainHow{check: m})
		if len(evt) != 250 || evt[0].Seq != 51 || evt[0].Value != 1050 {
			t.Fatalf("round %d: EVT %d records, first %+v", round, len(evt), evt[0])
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Format: a store written by a newer format is refused with a clear error
// and left as it is.
func TestNewerFormatIsRefused(t *testing.T) {
	clk := newClock(100)
	opts := diskOpts(clk)
	mem := vfs.NewMem()
	m := mustOpen(t, opts, mem)
	_ = m.Close()
	for _, name := range spool.CheckpointNames {
		b, err := vfs.ReadFile(mem, path.Join("store", name))
		if err != nil {
			continue
		}
		b[4] = spool.CheckpointVersion + 1
		f, _ := mem.Create(path.Join("store", name))
		_, _ = f.Write(b)
		_ = f.Close()
	}
	_, err := mm2.OpenFS(opts, mem)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer format: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// A segment dropped at the cap whose file is already removed when the store
// crashes before its next checkpoint: the journal's drop entry names the
// records and how many, so recovery counts them as dropped although they
// are gone (it counted none before, and they vanished uncounted), and every
// other record comes back.
func TestCapDropReplayedWhenTheSegmentIsGone(t *testing.T) {
	for _, pol := range []mm2.SyncPolicy{mm2.SyncOnPowerDown(), mm2.SyncAlways()} {
		clk := newClock(100)
		opts := diskOpts(clk)
		opts.Sync = pol
		opts.DiskCapBytes = 16 << 10
		mem := vfs.NewMem()
		m := mustOpen(t, opts, mem)
		id := mm2.StreamID{Source: mm2.CAN, Sensor: 1}
		s, err := m.Configure(id, mm2.TSD, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		cps := m.Stats().Checkpoints
		var n uint32
		for m.Stats().Drops.DiskCap == 0 {
			n++
			if err := s.WriteTSD(n); err != nil {
				t.Fatal(err)
			}
		}
		before := m.Stats()
		if before.Checkpoints != cps {
			t.Fatalf("a checkpoint was written (%d, then %d): the drop would not need the journal", cps, before.Checkpoints)
		}
		mm2.WaitCheckpoint(m) // kill -9
		m2 := mustOpen(t, opts, mem)
		s2, err := m2.Stream(id)
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, s2, drainHow{peek: true})
		dropped := m2.Stats().Drops.DiskCap
		if dropped != before.Drops.DiskCap || uint64(len(got))+dropped != uint64(n) {
			t.Fatalf("%v: %d written, %d dropped before the crash; after it %d back and %d counted dropped",
				pol, n, before.Drops.DiskCap, len(got), dropped)
		}
		last := uint64(0)
		for i, smp := range got {
			if smp.Seq <= last || smp.Value != uint32(smp.Seq) {
				t.Fatalf("%v: record %d back as %+v after seq %d", pol, i, smp, last)
			}
			last = smp.Seq
		}
		_ = m2.Close()
	}
}
