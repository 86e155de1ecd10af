package mm2_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

type pcStream struct {
	id      mm2.StreamID
	kind    mm2.Kind
	recs    []mm2.Sample // unacknowledged, oldest first; Seq and Value are checked
	pending int
	next    uint64 // the number the next write gets
}

// A process crash (the manager abandoned without Close or PowerDown, the
// files left as the operating system holds them) under the default policy
// loses no write and forgets no ACK that returned, and numbering goes on
// without a gap. The journal is small, so checkpoints happen in between.
func TestProcessCrashLosesNothingUnderDefaultPolicy(t *testing.T) {
	for seed := range uint64(25) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { processCrashRun(t, seed, mm2.SyncOnPowerDown()) })
	}
}

func processCrashRun(t *testing.T, seed uint64, policy mm2.SyncPolicy) {
	rng := rand.New(rand.NewPCG(seed, 1))
	clk := newClock(100)
	opts := diskOpts(clk)
	opts.Sync = policy
	opts.JournalBytes = 4 << 10
	mem := vfs.NewMem()
	streams := []*pcStream{
		{id: mm2.StreamID{Source: mm2.CAN, Sensor: 1}, kind: mm2.TSD},
		{id: mm2.StreamID{Source: mm2.CAN, Sensor: 2}, kind: mm2.TSD},
		{id: mm2.StreamID{Source: mm2.Gateway, Sensor: 9}, kind: mm2.EVT},
	}
	buf := make([]mm2.Sample, 64)
	for life := range 8 {
		m := mustOpen(t, opts, mem)
		handles := make([]*mm2.Stream, len(streams))
		for i, ps := range streams {
			period := 100 * time.Millisecond
			if ps.kind == mm2.EVT {
				period = 0
			}
			h, err := m.Configure(ps.id, ps.kind, period)
			if err != nil {
				t.Fatal(err)
			}
			handles[i] = h
			st := h.Stats()
			if ps.next == 0 {
				ps.next = st.Written + 1
			} else if st.Written+1 != ps.next {
				t.Fatalf("life %d %v: numbering resumes at %d, want %d (no gap after a process crash)", life, ps.id, st.Written+1, ps.next)
			}
			// Everything unacknowledged is back, in order, unread.
			ps.pending = 0
			got := drain(t, h, drainHow{peek: true})
			if len(got) != len(ps.recs) {
				gs, ws := []uint64{}, []uint64{}
				for _, g := range got {
					gs = append(gs, g.Seq)
				}
				for _, g := range ps.recs {
					ws = append(ws, g.Seq)
				}
				t.Logf("got %v\nwant %v\nstats %+v", gs, ws, st)
				t.Fatalf("life %d %v: %d records back, want %d", life, ps.id, len(got), len(ps.recs))
			}
			for k := range got {
				if got[k].Seq != ps.recs[k].Seq || got[k].Value != ps.recs[k].Value {
					t.Fatalf("life %d %v: record %d is %+v, want %+v", life, ps.id, k, got[k], ps.recs[k])
				}
			}
		}
		for step := range 150 + rng.IntN(400) {
			if err := m.Check(); err != nil {
				t.Fatalf("life %d step %d: %v", life, step, err)
			}
			i := rng.IntN(len(streams))
			ps, h := streams[i], handles[i]
			switch op := rng.IntN(11); {
			case op == 10:
				// A WriteBatch across the streams: its records' journal
				// entries go in as group entries before it returns.
				ws := make([]mm2.Write, 1+rng.IntN(80))
				for k := range ws {
					j := rng.IntN(len(streams))
					at := clk.at() // a TSD sample's time, as WriteTSD would take it
					if streams[j].kind == mm2.EVT {
						at += int64(rng.IntN(5000))
					}
					ws[k] = mm2.Write{Stream: handles[j], Value: rng.Uint32(), UTCms: at}
				}
				n, err := m.WriteBatch(ws)
				if err != nil && !errors.Is(err, mm2.ErrFull) {
					t.Fatalf("batch: %v", err)
				}
				for _, w := range ws[:n] {
					for j, hj := range handles {
						if hj == w.Stream {
							streams[j].recs = append(streams[j].recs, mm2.Sample{Seq: streams[j].next, Value: w.Value})
							streams[j].next++
						}
					}
				}
			case op < 6:
				v := rng.Uint32()
				var err error
				if ps.kind == mm2.TSD {
					err = h.WriteTSD(v)
				} else {
					err = h.WriteEVT(v, clk.at()+int64(rng.IntN(5000)))
				}
				if errors.Is(err, mm2.ErrFull) {
					continue
				}
				if err != nil {
					t.Fatalf("write: %v", err)
				}
				ps.recs = append(ps.recs, mm2.Sample{Seq: ps.next, Value: v})
				ps.next++
			case op < 8:
				n, err := h.ReadBulk(buf[:1+rng.IntN(len(buf)-1)])
				if errors.Is(err, mm2.ErrNoData) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				for k := range n {
					w := ps.recs[ps.pending+k]
					if buf[k].Seq != w.Seq || buf[k].Value != w.Value {
						t.Fatalf("read %v: %+v, want %+v; stats %+v", ps.id, buf[k], w, h.Stats())
					}
				}
				ps.pending += n
			case op < 9:
				if ps.pending > 0 {
					if _, err := h.Ack(); err != nil {
						t.Fatal(err)
					}
					ps.recs = ps.recs[ps.pending:]
					ps.pending = 0
				}
			default:
				if ps.pending > 0 {
					if _, err := h.Nack(); err != nil {
						t.Fatal(err)
					}
					ps.pending = 0
				}
			}
		}
		if err := m.Check(); err != nil {
			t.Fatalf("life %d: %v", life, err)
		}
		if st := m.Stats(); st.Drops.RAMFull+st.Drops.DiskCap+st.Drops.Corrupt > 0 {
			t.Fatalf("life %d: drops %+v; the test must not reach the caps", life, st.Drops)
		}
		// kill -9: no Close, no PowerDown (a dead process leaves no
		// checkpoint being written behind it).
		mm2.WaitCheckpoint(m)
	}
}

// Group commit under SyncAlways: concurrent writers, an uplink reading and
// acknowledging, and Sync calls share syncs made without the lock; after a
// power cut (only synced data kept) every write that returned is back and
// no acknowledged record returns.
func TestGroupCommitConcurrentWritersSurvivePowerCut(t *testing.T) {
	clk := newClock(100)
	opts := diskOpts(clk)
	opts.Clock = newClock(0).now
	opts.Sync = mm2.SyncAlways()
	mem := vfs.NewMem()
	m := mustOpen(t, opts, mem)
	const writers, per = 6, 300
	hs := make([]*mm2.Stream, writers)
	for i := range hs {
		hs[i], _ = m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: uint32(i)}, mm2.EVT, 0)
	}
	done := make(chan struct{})
	errs := make(chan error, writers+2)
	for i, h := range hs {
		go func(i int, h *mm2.Stream) {
			for k := 1; k <= per; k++ {
				if err := h.WriteEVT(uint32(k), int64(k)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(i, h)
	}
	acked := make([]uint64, writers)
	go func() { // the uplink: reads and acknowledges stream 0 while writes go on
		buf := make([]mm2.Sample, 16)
		for {
			select {
			case <-done:
				errs <- nil
				return
			default:
			}
			if n, err := hs[0].ReadBulk(buf); err == nil && n > 0 {
				if _, err := hs[0].Ack(); err != nil {
					errs <- err
					return
				}
				acked[0] = buf[n-1].Seq
			}
			if err := m.Sync(); err != nil {
				errs <- err
				return
			}
		}
	}()
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	m2 := mustOpen(t, opts, mem.CrashClone(vfs.CrashSynced, nil))
	for i, h := range hs {
		got := drainID(t, m2, h.ID(), drainHow{peek: true})
		first := acked[i] + 1
		if len(got) != int(per-first+1) || (len(got) > 0 && got[0].Seq != first) {
			t.Fatalf("%v after a power cut: %d records from %v, want %d..%d", h.ID(), len(got), got[:min(1, len(got))], first, per)
		}
	}
}
