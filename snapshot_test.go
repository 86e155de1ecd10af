package mm2_test

import (
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// The checkpoint made when the journal is half full copies the RAM tier and
// the frames being filled under the lock and encodes them without it, while
// writes go on changing the pool and the stages. After a power cut that keeps
// only what was synced, every stream holds at least what it held when the
// newest durable checkpoint's snapshot was taken, value for value, and
// nothing that was never written. Under the race detector, an encoding that
// read the live pool while a write changed it would be reported.
func TestCheckpointEncodedOutsideTheLockHoldsItsSnapshot(t *testing.T) {
	clk := newClock(0) // one period per round
	opts := diskOpts(clk)
	opts.JournalBytes = 16 << 10
	opts.DiskCapBytes = 4 << 20
	mem := vfs.NewMem()
	m := mustOpen(t, opts, mem)
	const streams = 24
	var hs []*mm2.Stream
	for i := 0; i < streams; i++ {
		s, err := m.Configure(mm2.StreamID{Source: mm2.Gateway, Sensor: uint32(i)}, mm2.TSD, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, s)
	}
	written := make([]uint32, streams)
	// covers[k] is what each stream had written when snapshot k+1 was taken.
	var covers [][]uint32
	started := uint64(0)
	for round := 0; round < 400; round++ {
		clk.add(100)
		for i, s := range hs {
			if err := s.WriteTSD(uint32(i)<<20 | written[i]); err != nil {
				t.Fatalf("write %d of %v: %v", written[i], s.ID(), err)
			}
			written[i]++
			if st := m.Stats(); st.CheckpointsStarted != started {
				started = st.CheckpointsStarted
				covers = append(covers, append([]uint32(nil), written...))
			}
		}
	}
	var st mm2.Stats
	for st = m.Stats(); st.DurableCheckpoint < started; st = m.Stats() {
		time.Sleep(time.Millisecond)
	}
	if started < 3 {
		t.Fatalf("only %d checkpoints started: the test needs a smaller journal", started)
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	cover := covers[st.DurableCheckpoint-1]
	m2 := mustOpen(t, opts, mem.CrashClone(vfs.CrashSynced, nil))
	for i, s := range hs {
		got := drainID(t, m2, s.ID(), drainHow{})
		if len(got) < int(cover[i]) || len(got) > int(written[i]) {
			t.Fatalf("%v after a power cut: %d records, want %d..%d", s.ID(), len(got), cover[i], written[i])
		}
		for k, smp := range got {
			if smp.Seq != uint64(k+1) || smp.Value != uint32(i)<<20|uint32(k) {
				t.Fatalf("%v record %d: seq %d value %#x", s.ID(), k, smp.Seq, smp.Value)
			}
		}
	}
}
