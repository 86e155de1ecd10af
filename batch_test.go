package mm2_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// batchOps is a mixed batch over a TSD stream (period 100 ms, samples a
// little early or late), a second TSD stream and an EVT stream.
func batchOps(ts1, ts2, ev *mm2.Stream, n int) []mm2.Write {
	var ws []mm2.Write
	t0 := int64(kitEpoch)
	for i := range n {
		jitter := int64(i%7) - 3
		ws = append(ws,
			mm2.Write{Stream: ts1, Value: uint32(i), UTCms: t0 + int64(i)*100 + jitter},
			mm2.Write{Stream: ev, Value: uint32(1000 + i), UTCms: t0 + int64(i)*37},
		)
		if i%3 == 0 {
			ws = append(ws, mm2.Write{Stream: ts2, Value: uint32(2000 + i), UTCms: t0 + int64(i/3)*1000})
		}
	}
	return ws
}

// batchDiskOpts are the options of batchStore's disk backend: a small pool
// and small segments, so a batch spills.
func batchDiskOpts(clk *testClock, sync mm2.SyncPolicy) mm2.Options {
	opts := diskOpts(clk)
	opts.DiskCapBytes, opts.Sync = 1<<20, sync
	return opts
}

// batchStore opens a store on the mock backend or on a disk backend in
// memory (batchDiskOpts), with three streams.
func batchStore(t *testing.T, disk bool, mem vfs.FS, o mm2.Options) (*mm2.Manager, *testClock, [3]*mm2.Stream) {
	t.Helper()
	var m *mm2.Manager
	clk := newClock(0)
	if disk {
		m = mustOpen(t, batchDiskOpts(clk, o.Sync), mem)
	} else {
		o.Profile = mm2.ProfileSTM32
		m, clk = openT(t, o)
	}
	return m, clk, [3]*mm2.Stream{
		configureT(t, m, mm2.CAN, 1, mm2.TSD, 100*time.Millisecond),
		configureT(t, m, mm2.CAN, 2, mm2.TSD, time.Second),
		configureT(t, m, mm2.Gateway, 3, mm2.EVT, 0),
	}
}

// A batch stores exactly what the same samples written one call each store:
// numbers, values and stored times, on both backends.
func TestWriteBatchStoresWhatSingleWritesStore(t *testing.T) {
	for _, disk := range []bool{false, true} {
		name := map[bool]string{false: "mock", true: "disk"}[disk]
		t.Run(name, func(t *testing.T) {
			mb, _, sb := batchStore(t, disk, vfs.NewMem(), mm2.Options{})
			_, clk, ss := batchStore(t, disk, vfs.NewMem(), mm2.Options{})
			ws := batchOps(sb[0], sb[1], sb[2], 120)
			n, err := mb.WriteBatch(ws)
			if err != nil || n != len(ws) {
				t.Fatalf("WriteBatch: %d of %d, %v", n, len(ws), err)
			}
			index := map[*mm2.Stream]*mm2.Stream{sb[0]: ss[0], sb[1]: ss[1], sb[2]: ss[2]}
			for _, w := range ws {
				s := index[w.Stream]
				if s.Kind() == mm2.TSD {
					clk.set(w.UTCms)
					okT(t, s.WriteTSD(w.Value), "WriteTSD")
				} else {
					okT(t, s.WriteEVT(w.Value, w.UTCms), "WriteEVT")
				}
			}
			for i := range sb {
				got, want := drain(t, sb[i], drainHow{ack: true}), drain(t, ss[i], drainHow{ack: true})
				if len(got) == 0 || !slices.Equal(got, want) {
					t.Fatalf("%v: batch stored %d records, single writes %d; first %v / %v", sb[i].ID(), len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
				}
			}
			checkT(t, mb, "after the batch")
		})
	}
}

// Bad input is refused before anything is stored; a closed manager, one
// powering down and one without UTC refuse the whole batch too.
func TestWriteBatchBadInputChangesNothing(t *testing.T) {
	m, _, s := batchStore(t, false, nil, mm2.Options{})
	_, _, os := batchStore(t, false, nil, mm2.Options{})
	good := batchOps(s[0], s[1], s[2], 5)
	for name, bad := range map[string][]mm2.Write{
		"nil stream":                append(slices.Clone(good), mm2.Write{Value: 1, UTCms: 1}),
		"a stream of another store": append(slices.Clone(good), mm2.Write{Stream: os[0], Value: 1, UTCms: 1}),
	} {
		n, err := m.WriteBatch(bad)
		if n != 0 || !errors.Is(err, mm2.ErrInvalidArgument) {
			t.Errorf("%s: %d stored, %v; want 0 and ErrInvalidArgument", name, n, err)
		}
		if st := m.Stats(); st.New != 0 {
			t.Errorf("%s: %d records stored", name, st.New)
		}
	}
	if n, err := m.WriteBatch(nil); n != 0 || err != nil {
		t.Errorf("empty batch: %d, %v", n, err)
	}

	mcu, err := mm2.Open(mm2.Options{Profile: mm2.ProfileSTM32})
	okT(t, err, "Open")
	defer mcu.Close()
	u, err := mcu.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, time.Second)
	okT(t, err, "Configure")
	if n, err := mcu.WriteBatch([]mm2.Write{{Stream: u, Value: 1, UTCms: 5}}); n != 0 || !errors.Is(err, mm2.ErrUTCNotAvailable) {
		t.Errorf("before UTC: %d, %v", n, err)
	}

	okT(t, m.PowerDown(context.Background()), "PowerDown")
	if n, err := m.WriteBatch(good); n != 0 || !errors.Is(err, mm2.ErrPoweringDown) {
		t.Errorf("powering down: %d, %v", n, err)
	}
	okT(t, m.Close(), "Close")
	if n, err := m.WriteBatch(good); n != 0 || !errors.Is(err, mm2.ErrClosed) {
		t.Errorf("closed: %d, %v", n, err)
	}
}

// A batch that meets a pool holding nothing it may drop stops there: it
// returns how many it stored, exactly those are stored, and the error is
// the one a single write gets.
func TestWriteBatchStopsWhereTheStoreIsFull(t *testing.T) {
	m, _, s := batchStore(t, false, nil, mm2.Options{})
	var ws []mm2.Write
	for _, w := range batchOps(s[0], s[1], s[2], 4000) {
		if w.Stream == s[0] {
			ws = append(ws, w)
		}
	}
	n, err := m.WriteBatch(ws[:10])
	okT(t, err, "first batch")
	if _, err := s[0].ReadBulk(make([]mm2.Sample, n)); err != nil {
		t.Fatal(err)
	}
	// Read as it comes, so that every stored record is pending.
	stored := n
	for stored < len(ws) {
		k, err := m.WriteBatch(ws[stored:min(stored+50, len(ws))])
		stored += k
		if err != nil {
			if !errors.Is(err, mm2.ErrFull) {
				t.Fatalf("at %d: %v, want ErrFull", stored, err)
			}
			break
		}
		buf := make([]mm2.Sample, k)
		if _, err := s[0].ReadBulk(buf); err != nil {
			t.Fatal(err)
		}
	}
	if stored == len(ws) {
		t.Fatalf("the pool took all %d records pending", stored)
	}
	if c := s[0].Counts(); c.Total != stored || c.Pending+c.New != stored {
		t.Fatalf("counts %+v after %d stored", c, stored)
	}
}

// Under SyncAlways a batch is durable when WriteBatch returns, with one
// sync for all of it; under the default policy a process crash right after
// it loses none of it.
func TestWriteBatchDurability(t *testing.T) {
	for _, always := range []bool{true, false} {
		mem := vfs.NewMem()
		o := mm2.Options{}
		if always {
			o.Sync = mm2.SyncAlways()
		}
		m, clk, s := batchStore(t, true, mem, o)
		ws := batchOps(s[0], s[1], s[2], 60)
		before := m.Stats().Syncs
		n, err := m.WriteBatch(ws)
		if err != nil || n != len(ws) {
			t.Fatalf("always=%v: %d of %d, %v", always, n, len(ws), err)
		}
		if syncs := m.Stats().Syncs - before; always && syncs != 1 {
			t.Errorf("SyncAlways: %d syncs for one batch of %d, want 1", syncs, len(ws))
		}
		after := vfs.FS(mem) // a process crash keeps what reached the operating system
		if always {
			after = mem.CrashClone(vfs.CrashSynced, nil) // a power cut keeps what was synced
		}
		m2 := mustOpen(t, batchDiskOpts(clk, o.Sync), after)
		for i := range s {
			got := drainID(t, m2, s[i].ID(), drainHow{})
			want := 0
			for _, w := range ws {
				if w.Stream == s[i] {
					want++
				}
			}
			if len(got) != want {
				t.Fatalf("always=%v %v after the crash: %d records, want %d", always, s[i].ID(), len(got), want)
			}
		}
		_ = m2.Close()
	}
}

// A batch that meets a failing disk part-way stops at the sample the disk
// refused: it returns how many were stored, exactly those are there, and
// under SyncAlways they are durable (a power cut right after keeps them
// all, and nothing past them).
func TestWriteBatchStopsAtADiskError(t *testing.T) {
	mem := vfs.NewMem()
	fault := vfs.NewFaultFS(mem)
	clk := newClock(0)
	opts := batchDiskOpts(clk, mm2.SyncAlways())
	m := mustOpen(t, opts, fault)
	s := configureT(t, m, mm2.CAN, 1, mm2.TSD, 100*time.Millisecond)
	var ws []mm2.Write
	for i := range 3000 {
		ws = append(ws, mm2.Write{Stream: s, Value: uint32(i), UTCms: kitEpoch + int64(i)*100})
	}
	n, err := m.WriteBatch(ws[:1000])
	if err != nil || n != 1000 {
		t.Fatalf("first batch: %d, %v", n, err)
	}
	fault.FailIf(func(op vfs.Op, name string) bool { return op == vfs.OpWrite && strings.Contains(name, "seg-") })
	n, err = m.WriteBatch(ws[1000:])
	fault.FailIf(nil)
	if err == nil || n >= 2000 {
		t.Fatalf("a batch on a disk refusing every segment write: %d stored, %v", n, err)
	}
	stored := 1000 + n
	t.Logf("stopped after %d: %v", n, err)
	if c := s.Counts(); c.Total != stored {
		t.Fatalf("counts %+v, the batches said %d stored", c, stored)
	}
	checkT(t, m, "after the stopped batch")
	m2 := mustOpen(t, opts, mem.CrashClone(vfs.CrashSynced, nil))
	got := drainID(t, m2, s.ID(), drainHow{})
	if len(got) != stored {
		t.Fatalf("after a power cut: %d records, %d were stored", len(got), stored)
	}
	for i, smp := range got {
		if smp.Value != uint32(i) || smp.Seq != uint64(i+1) {
			t.Fatalf("record %d after the power cut: %+v", i, smp)
		}
	}
}
