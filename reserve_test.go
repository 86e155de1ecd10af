package mm2_test

import (
	"errors"
	"testing"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// readAllSeen reads every unread record of s (ReadBulk, left pending) and
// returns the newest number a reader was shown.
func readAllSeen(tb testing.TB, s *mm2.Stream) uint64 {
	tb.Helper()
	got := drain(tb, s, drainHow{})
	if len(got) == 0 {
		return 0
	}
	return got[len(got)-1].Seq
}

// R-10 after a power cut: each stream resumes past every number a reader
// was shown, and jumps by its own reservation, set by its own pace, not by
// what the whole store could have written since the checkpoint (the
// journal's capacity, 9,353 records here). Before per-stream reservations a
// slow stream beside a fast one jumped by thousands.
func TestPowerCutJumpsByTheStreamsOwnReservation(t *testing.T) {
	clk := newClock(1)
	opts := diskOpts(clk)
	opts.JournalBytes = 64 << 10
	mem := vfs.NewMem()
	m := mustOpen(t, opts, mem)
	fast := configureT(t, m, mm2.CAN, 1, mm2.EVT, 0)
	slow := configureT(t, m, mm2.CAN, 2, mm2.EVT, 0)
	var seenFast uint64
	for i := range 30_000 {
		write(t, fast, clk, uint32(i))
		if i%100 == 0 {
			write(t, slow, clk, uint32(i))
		}
		if i%1000 == 999 { // the uplink drains as it goes
			seenFast = max(seenFast, readAllSeen(t, fast))
			if _, err := fast.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	seenFast, seenSlow := max(seenFast, readAllSeen(t, fast)), readAllSeen(t, slow)
	lastFast, lastSlow := fast.Stats().Written, slow.Stats().Written
	if seenFast != lastFast || seenSlow != lastSlow {
		t.Fatalf("readers saw %d and %d, written %d and %d", seenFast, seenSlow, lastFast, lastSlow)
	}
	if st := m.Stats(); st.CheckpointsStarted < 3 {
		t.Fatalf("%d checkpoints: the test needs several", st.CheckpointsStarted)
	}
	mm2.WaitCheckpoint(m)
	m2 := mustOpen(t, opts, mem.CrashClone(vfs.CrashSynced, nil))
	jcap := uint64(opts.JournalBytes-64) / 7
	for _, c := range []struct {
		name       string
		id         mm2.StreamID
		last, most uint64
	}{
		{"fast", fast.ID(), lastFast, jcap},
		{"slow", slow.ID(), lastSlow, 2 * 256},
	} {
		w := mustStream(t, m2, c.id).Stats().Written
		if w < c.last {
			t.Fatalf("%s: numbering resumes after %d, below %d, which a reader saw", c.name, w, c.last)
		}
		if w-c.last > c.most {
			t.Fatalf("%s: numbering jumped by %d after the power cut, want at most %d", c.name, w-c.last, c.most)
		}
		t.Logf("%s: jump %d (bound %d, store-wide bound %d)", c.name, w-c.last, c.most, jcap)
	}
}

// A reader that would pass its stream's reservation raises it with one
// synced journal entry first, so the numbers it is shown survive a power
// cut that keeps nothing else of the journal; records no reader saw may be
// renumbered.
func TestReaderPastTheReservationRaisesItDurably(t *testing.T) {
	clk := newClock(1)
	opts := diskOpts(clk)
	mem := vfs.NewMem()
	m := mustOpen(t, opts, mem)
	a := configureT(t, m, mm2.CAN, 1, mm2.EVT, 0)
	b := configureT(t, m, mm2.CAN, 2, mm2.EVT, 0)
	okT(t, m.Close(), "Close") // the next Open's checkpoint names both streams
	m = mustOpen(t, opts, mem)
	a, b = mustStream(t, m, a.ID()), mustStream(t, m, b.ID())
	for i := range 1000 { // past the reservation (256 ahead), no checkpoint
		write(t, a, clk, uint32(i))
		write(t, b, clk, uint32(i))
	}
	if st := m.Stats(); st.CheckpointsStarted != 1 {
		t.Fatalf("%d checkpoints since Open, want only Open's", st.CheckpointsStarted)
	}
	syncs := m.Stats().Syncs
	seen := readAllSeen(t, a)
	if got := m.Stats().Syncs - syncs; got != 1 {
		t.Fatalf("the read past the reservation made %d syncs, want 1", got)
	}
	syncs = m.Stats().Syncs
	readAllSeen(t, b) // raised by the same sync
	if got := m.Stats().Syncs - syncs; got != 0 {
		t.Fatalf("the second stream's read made %d syncs, want 0", got)
	}
	m2 := mustOpen(t, opts, mem.CrashClone(vfs.CrashSynced, nil))
	w := mustStream(t, m2, a.ID()).Stats().Written
	if w < seen || w > seen+2*1000 {
		t.Fatalf("numbering resumes after %d; a reader saw %d, and the raise reached at most %d", w, seen, seen+2*1000)
	}
}

// Reservations under concurrency: writers of many streams, a reader that
// raises reservations (its sync runs without the lock, beside background
// checkpoints), then a power cut at a quiet moment, three times over. No
// stream may resume below a number the reader was shown.
func TestReservationsHoldWithConcurrentWritersAndReader(t *testing.T) {
	clk := newClock(1)
	opts := diskOpts(clk)
	opts.JournalBytes = 32 << 10 // checkpoints every ~2,300 records
	mem := vfs.NewMem()
	m := mustOpen(t, opts, mem)
	const streams = 12
	var hs [streams]*mm2.Stream
	for i := range hs {
		hs[i] = configureT(t, m, mm2.CAN, uint32(i), mm2.EVT, 0)
	}
	var seen [streams]uint64
	for round := range 3 {
		done := make(chan error, 3)
		for w := range 2 {
			go func() {
				for k := range 6_000 {
					h := hs[w*streams/2+k%(streams/2)]
					if err := h.WriteEVT(uint32(k), 1_700_000_000_000+int64(k)); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
		}
		go func() {
			buf := make([]mm2.Sample, 50)
			for k := range 3_000 {
				h := hs[k%streams]
				n, err := h.ReadBulk(buf)
				if err != nil && !errors.Is(err, mm2.ErrNoData) {
					done <- err
					return
				}
				if n > 0 {
					seen[k%streams] = max(seen[k%streams], buf[n-1].Seq)
					if k%3 == 0 {
						// ErrNoData: the disk cap dropped the batch meanwhile.
						if _, err := h.Ack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
							done <- err
							return
						}
					}
				}
			}
			done <- nil
		}()
		for range 3 {
			if err := <-done; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		mm2.WaitCheckpoint(m)
		cut := mustOpen(t, opts, mem.CrashClone(vfs.CrashSynced, nil))
		for i, h := range hs {
			if w := mustStream(t, cut, h.ID()).Stats().Written; w < seen[i] {
				t.Fatalf("round %d, %v: numbering resumes after %d, a reader saw %d", round, h.ID(), w, seen[i])
			}
		}
		okT(t, cut.Close(), "Close")
	}
}
