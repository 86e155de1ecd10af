package mm2_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// crashScript is a scripted run that spills to disk, rotates segments, hits
// the disk cap, retires segments on ACK and powers down. It stops at the
// first error (the simulated crash) and remembers what the caller was told.
type crashScript struct {
	opts    mm2.Options
	ids     []mm2.StreamID
	written map[mm2.StreamID]uint64 // newest seq whose write returned nil
	acked   map[mm2.StreamID]uint64 // newest seq whose Ack returned nil
	doubt   map[mm2.StreamID]bool   // the failed operation touched this stream
	acking  map[mm2.StreamID]uint64 // newest seq an ACK in flight covers (SyncAlways makes it durable before it returns)
	drops   uint64                  // records dropped before the crash (counted)
	done    bool                    // the script ran to the end, power-down included
}

func crashValue(id mm2.StreamID, seq uint64) uint32 { return uint32(seq*7) + id.Sensor }

func newCrashScript(sync mm2.SyncPolicy) *crashScript {
	clk := newClock(10)
	p := mm2.ProfileLinux
	p.PoolBytes = 1 << 10
	return &crashScript{
		opts: mm2.Options{Profile: p, Dir: "store", SegmentBytes: 4 << 10, DiskCapBytes: 12 << 10, Sync: sync,
			JournalBytes: 8 << 10, // checkpoints (written without the lock) happen inside the script
			Clock:        clk.now},
		ids:     []mm2.StreamID{{Source: mm2.CAN, Sensor: 1}, {Source: mm2.CAN, Sensor: 2}, {Source: mm2.Gateway, Sensor: 3}},
		written: map[mm2.StreamID]uint64{}, acked: map[mm2.StreamID]uint64{}, doubt: map[mm2.StreamID]bool{},
		acking: map[mm2.StreamID]uint64{},
	}
}

func (c *crashScript) run(fsys vfs.FS) {
	m, err := mm2.OpenFS(c.opts, fsys)
	if err != nil {
		return
	}
	handles := make([]*mm2.Stream, len(c.ids))
	for i, id := range c.ids {
		kind, period := mm2.TSD, 10*time.Millisecond
		if i == 2 {
			kind, period = mm2.EVT, 0
		}
		if handles[i], err = m.Configure(id, kind, period); err != nil {
			return
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	buf := make([]mm2.Sample, 64)
	for op := 0; op < 240; op++ {
		i := rng.IntN(len(c.ids))
		s, id := handles[i], c.ids[i]
		c.doubt[id] = true
		switch r := rng.IntN(10); {
		case r < 6:
			for k := 0; k < 40; k++ {
				seq := c.written[id] + 1
				if s.Kind() == mm2.TSD {
					err = s.WriteTSD(crashValue(id, seq))
				} else {
					err = s.WriteEVT(crashValue(id, seq), int64(seq)*1000)
				}
				if err != nil {
					return
				}
				c.written[id] = seq
				c.drops = m.Stats().Drops.Total()
			}
		case r < 8:
			if _, err = s.ReadBulk(buf); err != nil && !errors.Is(err, mm2.ErrNoData) {
				return
			}
			before := s.Counts()
			st := s.Stats()
			c.acking[id] = st.Read // an ACK in flight at the crash may have taken these
			if _, err = s.Ack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
				return
			}
			c.acking[id] = 0
			if before.Pending > 0 {
				c.acked[id] = st.Acked // updated below from the stream's own view
				c.acked[id] = s.Stats().Acked
			}
		case r < 9:
			if _, err = s.ReadBulk(buf[:7]); err != nil && !errors.Is(err, mm2.ErrNoData) {
				return
			}
			if _, err = s.Nack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
				return
			}
		default:
			if err = m.PowerDown(context.Background()); err != nil {
				return
			}
			if err = m.PowerAbort(); err != nil {
				return
			}
		}
		c.doubt[id] = false
		c.drops = m.Stats().Drops.Total()
	}
	if err := m.PowerDown(context.Background()); err != nil {
		return
	}
	c.done = true
}

// verify reopens a crashed store and checks what came back.
func (c *crashScript) verify(fsys vfs.FS, always bool) error {
	m, err := mm2.OpenFS(c.opts, fsys)
	if err != nil {
		return fmt.Errorf("Open failed: %w", err)
	}
	if err := m.Check(); err != nil {
		return fmt.Errorf("Check after recovery: %w", err)
	}
	var missing uint64
	for _, id := range c.ids {
		s, err := m.Stream(id)
		if err != nil {
			if c.written[id] == 0 || !always {
				continue
			}
			return fmt.Errorf("%v lost: %w", id, err)
		}
		got := map[uint64]bool{}
		last := uint64(0)
		buf := make([]mm2.Sample, 100)
		for {
			n, err := s.ReadBulk(buf)
			if errors.Is(err, mm2.ErrNoData) {
				break
			}
			if err != nil {
				return fmt.Errorf("%v: ReadBulk after recovery: %w", id, err)
			}
			for _, smp := range buf[:n] {
				if smp.Seq <= last || smp.Value != crashValue(id, smp.Seq) {
					return fmt.Errorf("%v: invented, corrupted or reordered record %+v after seq %d", id, smp, last)
				}
				last = smp.Seq
				if smp.Seq > c.written[id]+1 || (smp.Seq == c.written[id]+1 && !c.doubt[id]) {
					return fmt.Errorf("%v: seq %d was never written (newest %d)", id, smp.Seq, c.written[id])
				}
				if (always || c.done) && smp.Seq <= c.acked[id] && !c.doubt[id] {
					return fmt.Errorf("%v: acknowledged record %d came back", id, smp.Seq)
				}
				got[smp.Seq] = true
			}
		}
		if always || c.done {
			from := c.acked[id] + 1
			if c.doubt[id] {
				from = max(from, c.acking[id]+1)
			}
			for seq := from; seq <= c.written[id]; seq++ {
				if !got[seq] {
					missing++
				}
			}
		}
		if _, err := s.Ack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
			return err
		}
	}
	// The counted drops, plus the one write in doubt, plus what it dropped
	// at the disk cap: the journal replays that drop, counted again at Open.
	if replayed := m.Stats().Drops.Total(); missing > c.drops+40+replayed {
		return fmt.Errorf("%d unacknowledged durable records missing, only %d dropped (%d more replayed)", missing, c.drops, replayed)
	}
	return m.Check()
}

// TestCrashAtEveryMutation crashes the scripted run at every filesystem
// mutation, in each of the four crash modes, and verifies each recovery.
func TestCrashAtEveryMutation(t *testing.T) {
	policies := map[string]mm2.SyncPolicy{"always": mm2.SyncAlways(), "on-power-down": mm2.SyncOnPowerDown()}
	cycles := 0
	for name, pol := range policies {
		t.Run(name, func(t *testing.T) {
			count := vfs.NewCrashFS(vfs.NewMem())
			full := newCrashScript(pol)
			full.run(count)
			if !full.done {
				t.Fatal("the script does not complete without a crash")
			}
			n := count.Mutations()
			t.Logf("%s: %d mutations", name, n)
			samples := 350
			if testing.Short() {
				samples = 60
			}
			step := max(1, n/samples)
			for k := 1; k <= n; k += step {
				cfs := vfs.NewCrashFS(vfs.NewMem())
				cfs.CrashAt(k)
				sc := newCrashScript(pol)
				sc.run(cfs)
				for _, mode := range vfs.CrashModes() {
					snap := cfs.Snapshot(mode, rand.New(rand.NewPCG(uint64(k), uint64(mode))))
					if err := sc.verify(snap, name == "always"); err != nil {
						t.Fatalf("crash at mutation %d of %d, mode %v: %v", k, n, mode, err)
					}
					cycles++
				}
			}
		})
	}
	t.Logf("%d crash/recover/verify cycles", cycles)
	if !testing.Short() && cycles < 2000 {
		t.Fatalf("only %d cycles; want at least 2,000", cycles)
	}
}
