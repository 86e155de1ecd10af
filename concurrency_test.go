package mm2_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// concStream is what the test knows about one stream under concurrent use.
type concStream struct {
	s      *mm2.Stream
	shared bool // written by every writer; the value carries the writer
	// written by its writers; delivered by the uploader (acked batches only).
	written   atomic.Uint64
	delivered []mm2.Sample
}

const concWriterShift = 24 // shared stream values: writer<<24 | counter

// TestConcurrentWritersAndUploader runs many writer goroutines, an uploader
// that reads, ACKs and NACKs, and an observer that calls the read-only
// methods and Check, all at once (R-31; run under -race). With RejectNew
// nothing is dropped: every record is delivered exactly once in acknowledged
// batches, in write order per stream, with consecutive sequence numbers, and
// a NACKed batch comes back first with the same sequence numbers. With
// DropOldest the records that were dropped show up as counted gaps.
func TestConcurrentWritersAndUploader(t *testing.T) {
	for _, ov := range []mm2.Overflow{mm2.RejectNew, mm2.DropOldest} {
		t.Run(fmt.Sprintf("overflow=%d", ov), func(t *testing.T) { runConcurrent(t, ov, "") })
	}
	// The disk backend: the pool spills to segments that the uploader's
	// ACKs retire, while Check reads them without the lock.
	t.Run("disk", func(t *testing.T) { runConcurrent(t, mm2.DropOldest, filepath.Join(t.TempDir(), "store")) })
}

func runConcurrent(t *testing.T, ov mm2.Overflow, dir string) {
	const writers, perStream = 6, 1500
	prof := mm2.ProfileLinux
	prof.PoolBytes = 8 << 10 // 256 sectors: the pool fills and writers contend for it
	o := mm2.Options{Profile: prof, Overflow: ov, Clock: newClock(1).now, Dir: dir}
	if dir != "" {
		o.SegmentBytes = 4 << 10
	}
	m := openStore(t, o, nil)

	shared := &concStream{s: configureT(t, m, mm2.Gateway, 1000, mm2.EVT, 0), shared: true}
	streams := []*concStream{shared}
	own := make([][]*concStream, writers)
	for w := 0; w < writers; w++ {
		for _, kind := range bothKinds {
			period := time.Duration(0)
			if kind == mm2.TSD {
				period = 10 * time.Millisecond
			}
			cs := &concStream{s: configureT(t, m, mm2.Source(w%mm2.MaxSources), uint32(10*w)+uint32(kind), kind, period)}
			own[w] = append(own[w], cs)
			streams = append(streams, cs)
		}
	}

	errc := make(chan error, writers+2)
	var stop atomic.Bool // set on the first error so that no goroutine waits for another forever
	fail := func(err error) {
		stop.Store(true)
		errc <- err
	}
	var writing sync.WaitGroup
	// writeOne retries a refused write until the uploader makes room.
	writeOne := func(cs *concStream, v uint32) error {
		for {
			var err error
			if cs.s.Kind() == mm2.TSD {
				err = cs.s.WriteTSD(v)
			} else {
				err = cs.s.WriteEVT(v, int64(v))
			}
			if err == nil {
				cs.written.Add(1)
				return nil
			}
			if !errors.Is(err, mm2.ErrFull) {
				return err
			}
			if stop.Load() {
				return errors.New("stopped")
			}
			runtime.Gosched()
		}
	}
	for w := 0; w < writers; w++ {
		writing.Add(1)
		go func() {
			defer writing.Done()
			for i := uint32(1); i <= perStream; i++ {
				for _, cs := range own[w] {
					if err := writeOne(cs, i); err != nil {
						fail(err)
						return
					}
				}
				if i%3 == 0 {
					if err := writeOne(shared, uint32(w)<<concWriterShift|i/3); err != nil {
						fail(err)
						return
					}
				}
			}
		}()
	}
	var done atomic.Bool
	go func() {
		writing.Wait()
		done.Store(true)
	}()

	var background sync.WaitGroup
	background.Add(2)
	go func() { // the uploader
		defer background.Done()
		rng := rand.New(rand.NewPCG(1, uint64(ov)))
		buf := make([]mm2.Sample, 64)
		nacked := make(map[*concStream]mm2.Sample)
		for {
			finished := done.Load()
			idle := true
			for _, cs := range streams {
				n, err := cs.s.ReadBulk(buf[:1+rng.IntN(len(buf))])
				if errors.Is(err, mm2.ErrNoData) {
					continue
				}
				if err != nil {
					fail(err)
					return
				}
				idle = false
				// A NACKed batch is unread again: under DropOldest it may be
				// dropped before it is read again, never replaced.
				if first, ok := nacked[cs]; ok && buf[0] != first &&
					(ov == mm2.RejectNew || buf[0].Seq <= first.Seq) {
					fail(fmt.Errorf("%v: after a NACK the next read starts with %+v, want %+v", cs.s.ID(), buf[0], first))
					return
				}
				delete(nacked, cs)
				if rng.IntN(4) == 0 { // the cloud did not confirm: send again
					if k, err := cs.s.Nack(); err != nil || k != n {
						fail(fmt.Errorf("%v: nack = %d, %v; want %d", cs.s.ID(), k, err, n))
						return
					}
					nacked[cs] = buf[0]
					continue
				}
				if k, err := cs.s.Ack(); err != nil || k != n {
					fail(fmt.Errorf("%v: ack = %d, %v; want %d", cs.s.ID(), k, err, n))
					return
				}
				cs.delivered = append(cs.delivered, buf[:n]...)
			}
			if (finished && idle) || stop.Load() {
				return
			}
		}
	}()
	go func() { // an observer using the read-only calls
		defer background.Done()
		buf := make([]mm2.Sample, 8)
		for i := 0; !done.Load() && !stop.Load(); i++ {
			cs := streams[i%len(streams)]
			c := cs.s.Counts()
			if c.New < 0 || c.Pending < 0 || c.Total != c.New+c.Pending {
				fail(fmt.Errorf("%v: counts %+v", cs.s.ID(), c))
				return
			}
			_, _ = cs.s.Peek(i % 4)
			_, _ = cs.s.PeekBulk(buf)
			_ = cs.s.Stats()
			_ = m.Stats()
			if i%64 == 0 {
				if err := m.Check(); err != nil {
					fail(err)
					return
				}
			}
			runtime.Gosched()
		}
	}()
	writing.Wait()
	background.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	checkT(t, m, "the run")

	st := m.Stats()
	if st.SectorsUsed != 0 || st.New != 0 || st.Pending != 0 {
		t.Fatalf("everything delivered, but %d sectors used, %d new, %d pending", st.SectorsUsed, st.New, st.Pending)
	}
	if ov == mm2.RejectNew && st.RejectedWrites == 0 {
		t.Fatal("no write was ever refused: the pool never filled")
	}
	if dir != "" && st.BytesWritten < 16<<10 { // four segments; runs here write 48-70 KB
		t.Fatalf("%d bytes written to disk: the pool hardly spilled", st.BytesWritten)

	}
	total, dropped := 0, uint64(0)
	for _, cs := range streams {
		written := cs.written.Load()
		drops := cs.s.Stats().Drops.RAMFull
		dropped += drops
		total += len(cs.delivered)
		if uint64(len(cs.delivered))+drops != written {
			t.Fatalf("%v: %d delivered + %d dropped != %d written", cs.s.ID(), len(cs.delivered), drops, written)
		}
		if ov == mm2.RejectNew && drops != 0 {
			t.Fatalf("%v: %d records dropped under RejectNew", cs.s.ID(), drops)
		}
		verifyDelivery(t, cs, drops)
	}
	t.Logf("%d records delivered exactly once over %d streams; %d dropped (counted), %d writes refused",
		total, len(streams), dropped, st.RejectedWrites)
}

// verifyDelivery checks one stream's acknowledged records: sequence numbers
// strictly increasing with exactly drops missing, and the values in write
// order (per writer, for the shared stream).
func verifyDelivery(t *testing.T, cs *concStream, drops uint64) {
	t.Helper()
	gaps := uint64(0)
	last := make(map[uint32]uint32) // shared: writer -> last counter seen
	for i, smp := range cs.delivered {
		prev := uint64(0)
		if i > 0 {
			prev = cs.delivered[i-1].Seq
		}
		if smp.Seq <= prev {
			t.Fatalf("%v: seq %d after %d: delivered twice or out of order", cs.s.ID(), smp.Seq, prev)
		}
		gaps += smp.Seq - prev - 1
		switch {
		case cs.shared:
			w, n := smp.Value>>concWriterShift, smp.Value&(1<<concWriterShift-1)
			if n <= last[w] || (drops == 0 && n != last[w]+1) {
				t.Fatalf("%v: writer %d's record %d after %d", cs.s.ID(), w, n, last[w])
			}
			last[w] = n
		case uint64(smp.Value) != smp.Seq:
			// Each own stream has one writer, so value i is the i-th record.
			t.Fatalf("%v: seq %d holds value %d: out of order", cs.s.ID(), smp.Seq, smp.Value)
		}
		if cs.s.Kind() == mm2.EVT && smp.UTCms != int64(smp.Value) {
			t.Fatalf("%v: %+v has the wrong timestamp", cs.s.ID(), smp)
		}
	}
	if tail := cs.written.Load() - lastSeq(cs.delivered); gaps+tail != drops {
		t.Fatalf("%v: %d gaps in the sequence numbers (+%d at the end), %d records counted as dropped", cs.s.ID(), gaps, tail, drops)
	}
}

func lastSeq(s []mm2.Sample) uint64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1].Seq
}
