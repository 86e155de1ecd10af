package uplink

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

func TestEveryRecordArrivesInOrderThroughFailuresAndTimeouts(t *testing.T) {
	for _, inFlight := range []int{1, 4} {
		t.Run(map[int]string{1: "one-in-flight", 4: "four-in-flight"}[inFlight], func(t *testing.T) {
			m := openManager(t)
			f := newFeed(t, m)
			l := newLedger()
			var mu sync.Mutex
			rng := rand.New(rand.NewPCG(1, uint64(inFlight)))
			cfg := fastConfig()
			cfg.MaxBytes, cfg.MaxRecords, cfg.MaxInFlight = 512, 100, inFlight
			fs := &fake{t: t, l: l, maxBytes: cfg.MaxBytes, plan: func(int, *Batch) outcome {
				mu.Lock()
				defer mu.Unlock()
				switch r := rng.IntN(10); {
				case r < 6:
					return deliverOK
				case r < 8:
					return failFast
				case r < 9:
					return timeOut
				default:
					return lateConfirm
				}
			}}
			u, err := New(m, fs, cfg)
			if err != nil {
				t.Fatal(err)
			}
			stop := runUplink(t, u)
			// Writers on four sources while the uplink runs.
			var wg sync.WaitGroup
			for src := range mm2.Source(4) {
				wg.Go(func() {
					for round := range 20 {
						for sensor := range uint32(3) {
							f.write(mm2.StreamID{Source: src, Sensor: sensor + 10*uint32(src)}, 5+round%7)
						}
						time.Sleep(time.Millisecond)
					}
				})
			}
			wg.Wait()
			waitFor(t, "every record ACKed", func() bool { return allAcked(m) })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			dups := l.check(t, f.snapshot())
			st := u.Stats()
			if st.Total.Nacks == 0 || dups == 0 {
				t.Errorf("the plan should have caused NACKs and duplicates: nacks %d, dups %d", st.Total.Nacks, dups)
			}
			if st.Total.Batches != st.Total.Acks+st.Total.Nacks || st.Total.Records != st.Total.AckedRecords+st.Total.NackedRecords {
				t.Errorf("stats do not add up: %+v", st.Total)
			}
			if st.Latency.Count != st.Total.Batches {
				t.Errorf("latency observations %d, batches %d", st.Latency.Count, st.Total.Batches)
			}
		})
	}
}

func TestNoDuplicatesWhenEverySendSucceeds(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	l := newLedger()
	for src := range mm2.Source(mm2.MaxSources) {
		for sensor := range uint32(4) {
			f.write(mm2.StreamID{Source: src, Sensor: sensor}, 50)
		}
	}
	cfg := fastConfig()
	cfg.MaxBytes = 300
	u, err := New(m, &fake{t: t, l: l, maxBytes: cfg.MaxBytes}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := u.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if dups := l.check(t, f.snapshot()); dups != 0 {
		t.Errorf("%d duplicates without a single failure", dups)
	}
	if st := u.Stats(); st.Total.AckedRecords != 8*4*50 || st.Total.Nacks != 0 {
		t.Errorf("stats: %+v", st.Total)
	}
}

// SPEC §12 item 5: the upload source changed between read and ACK, so the
// ACK went elsewhere. Here a Gateway batch stays in flight while the rotation
// moves on and Hosted batches are sent and ACKed; when the Gateway batch is
// confirmed, exactly its streams are ACKed.
func TestAckGoesToTheBatchStreamsAfterRotationMovedOn(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	l := newLedger()
	gw := []mm2.StreamID{{Source: mm2.Gateway, Sensor: 1}, {Source: mm2.Gateway, Sensor: 2}}
	hosted := []mm2.StreamID{{Source: mm2.Hosted, Sensor: 1}, {Source: mm2.Hosted, Sensor: 2}}
	for _, id := range append(gw, hosted...) {
		f.write(id, 20)
	}
	release := make(chan struct{})
	held := make(chan struct{})
	var holdOnce sync.Once
	cfg := fastConfig()
	cfg.MaxInFlight, cfg.Timeout = 4, testTimeout
	fs := &fake{t: t, l: l, hook: func(b *Batch) {
		if b.Source == mm2.Gateway {
			holdOnce.Do(func() {
				close(held)
				<-release
			})
		}
	}}
	u, err := New(m, fs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	runUplink(t, u)
	<-held
	waitFor(t, "Hosted drained while Gateway is in flight", func() bool {
		return l.received(hosted[0]) == 20 && l.received(hosted[1]) == 20 && m.Stats().Pending == 40
	})
	// More data behind the batch in flight, on both sources.
	for _, id := range append(gw, hosted...) {
		f.write(id, 5)
	}
	waitFor(t, "the new Hosted data sent", func() bool {
		return l.received(hosted[0]) == 25 && l.received(hosted[1]) == 25
	})
	for _, id := range gw {
		h, _ := m.Stream(id)
		if c := h.Counts(); c.Pending != 20 || c.New != 5 {
			t.Fatalf("%v while its batch is in flight: %+v, want 20 pending and 5 new", id, c)
		}
	}
	close(release)
	waitFor(t, "everything ACKed", func() bool { return allAcked(m) })
	if dups := l.check(t, f.snapshot()); dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
}

// SPEC §12 item 8: one source's writes were filed under another and never
// freed. The same sensor ids on every source carry values that name their
// source; every batch holds only its own source's records.
func TestSourcesAreNeverMixedInABatch(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	l := newLedger()
	for src := range mm2.Source(mm2.MaxSources) {
		for sensor := range uint32(3) {
			f.write(mm2.StreamID{Source: src, Sensor: sensor}, 30)
		}
	}
	var perSource [mm2.MaxSources]atomic.Int64
	cfg := fastConfig()
	cfg.MaxBytes = 400
	u, err := New(m, &fake{t: t, l: l, hook: func(b *Batch) {
		perSource[b.Source].Add(int64(b.Records()))
		for i := range b.Runs {
			if b.Stream(i).Source != b.Source {
				t.Errorf("batch of %v holds a run of %v", b.Source, b.Stream(i))
			}
		}
	}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := u.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	l.check(t, f.snapshot()) // values name their source: a mix-up fails here
	for src := range perSource {
		if n := perSource[src].Load(); n != 90 {
			t.Errorf("source %v: %d records sent, want 90", mm2.Source(src), n)
		}
		if st := u.Stats().Sources[src]; st.AckedRecords != 90 {
			t.Errorf("source %v: %d records ACKed, want 90", mm2.Source(src), st.AckedRecords)
		}
	}
}

// SPEC §12 item 14: NACKed records were never resent and were erased by the
// next ACK. Here the first attempt fails; its records are sent again, from
// the same first sequence number, and only a confirmed batch erases them.
func TestNackedRecordsAreResentAndNotErasedByLaterAck(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	l := newLedger()
	id := mm2.StreamID{Source: mm2.CAN, Sensor: 7}
	f.write(id, 40)
	h, _ := m.Stream(id)
	var firstSeqs []uint64
	var mu sync.Mutex
	cfg := fastConfig()
	cfg.MaxRecords = 10
	fs := &fake{t: t, l: l,
		hook: func(b *Batch) {
			mu.Lock()
			firstSeqs = append(firstSeqs, b.Runs[0].Samples[0].Seq)
			mu.Unlock()
		},
		plan: func(call int, b *Batch) outcome {
			if call == 1 || call == 3 {
				return failFast
			}
			return deliverOK
		}}
	u, err := New(m, fs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := u.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	want := []uint64{1, 1, 11, 11, 21, 31}
	if len(firstSeqs) != len(want) {
		t.Fatalf("batches started at %v, want %v", firstSeqs, want)
	}
	for i := range want {
		if firstSeqs[i] != want[i] {
			t.Fatalf("batches started at %v, want %v", firstSeqs, want)
		}
	}
	if c := h.Counts(); c.Total != 0 {
		t.Errorf("counts after drain: %+v", c)
	}
	if dups := l.check(t, f.snapshot()); dups != 0 {
		t.Errorf("%d duplicates, but the failed attempts delivered nothing", dups)
	}
}

// SPEC §12 item 15: an ACK on one source erased data another source had not
// sent. Here CAN's link fails while Gateway's works: Gateway is ACKed to
// empty and CAN keeps every record unread until its own batches succeed.
func TestAckOnOneSourceNeverErasesAnotherSourcesData(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	l := newLedger()
	ids := []mm2.StreamID{{Source: mm2.Gateway, Sensor: 1}, {Source: mm2.CAN, Sensor: 1}, {Source: mm2.CAN, Sensor: 2}}
	for _, id := range ids {
		f.write(id, 25)
	}
	var canUp atomic.Bool
	cfg := fastConfig()
	cfg.MaxRecords = 8
	u, err := New(m, &fake{t: t, l: l, plan: func(_ int, b *Batch) outcome {
		if b.Source == mm2.CAN && !canUp.Load() {
			return failFast
		}
		return deliverOK
	}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	runUplink(t, u)
	waitFor(t, "Gateway drained and CAN failing", func() bool {
		return l.received(ids[0]) == 25 && u.Stats().Sources[mm2.CAN].Nacks >= 3
	})
	waitFor(t, "Gateway ACKed", func() bool {
		h, _ := m.Stream(ids[0])
		return h.Counts().Total == 0
	})
	for _, id := range ids[1:] {
		h, _ := m.Stream(id)
		// A CAN batch may be in flight: its records are pending, none erased.
		if c := h.Counts(); c.Total != 25 {
			t.Fatalf("%v after Gateway's ACKs: %+v, want all 25 still there", id, c)
		}
	}
	canUp.Store(true)
	waitFor(t, "CAN delivered", func() bool { return allAcked(m) })
	l.check(t, f.snapshot())
}

// "Reading more than fits": the original read a packet's worth of records,
// sent what fitted and erased them all. A batch here reads only what it
// sends: while it is in flight, each stream of its source has exactly the
// batch's records pending, and the payload is within the byte limit.
func TestBatchNeverReadsMoreThanItSends(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	l := newLedger()
	var ids []mm2.StreamID
	for sensor := range uint32(6) {
		id := mm2.StreamID{Source: mm2.BLE, Sensor: sensor}
		ids = append(ids, id)
		f.write(id, 200)
	}
	cfg := fastConfig()
	cfg.MaxBytes, cfg.MaxRecords = MinMaxBytes+40, 1000
	var batches, full atomic.Int64
	fs := &fake{t: t, l: l, maxBytes: cfg.MaxBytes, hook: func(b *Batch) {
		batches.Add(1)
		inBatch := map[mm2.StreamID]int{}
		for i, r := range b.Runs {
			inBatch[b.Stream(i)] += len(r.Samples)
		}
		for _, id := range ids {
			h, _ := m.Stream(id)
			if c := h.Counts(); c.Pending != inBatch[id] {
				t.Errorf("batch %d: %v has %d pending, the batch carries %d", b.ID, id, c.Pending, inBatch[id])
			}
		}
		// Filled: within one record at its largest encoding of the limit
		// (each record is read once, so the last read asks only for what
		// fits at that size), or no stream's next record would have fitted.
		if EncodedSize(b) > cfg.MaxBytes-maxRecordCost || !couldTakeMore(t, m, b, ids, cfg.MaxBytes) {
			full.Add(1)
		}
	}}
	u, err := New(m, fs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := u.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if dups := l.check(t, f.snapshot()); dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
	if b, fl := batches.Load(), full.Load(); fl != b {
		t.Errorf("only %d of %d batches were filled to the limit", fl, b)
	}
}

// couldTakeMore reports whether the next unread record of one of ids would
// still have fitted into b within limit.
func couldTakeMore(t *testing.T, m *mm2.Manager, b *Batch, ids []mm2.StreamID, limit int) bool {
	for _, id := range ids {
		h, _ := m.Stream(id)
		next, err := h.Peek(0)
		if err != nil {
			continue
		}
		c := Batch{Source: b.Source, ID: b.ID, Runs: append([]Run(nil), b.Runs...)}
		last := &c.Runs[len(c.Runs)-1]
		if c.Stream(len(c.Runs)-1) == id && last.Samples[len(last.Samples)-1].Seq+1 == next.Seq {
			last.Samples = append(last.Samples[:len(last.Samples):len(last.Samples)], next)
		} else {
			c.Runs = append(c.Runs, Run{Sensor: id.Sensor, Kind: h.Kind(), Samples: []mm2.Sample{next}})
		}
		if EncodedSize(&c) <= limit {
			t.Logf("batch %d (%d bytes) could have taken %v seq %d", b.ID, EncodedSize(b), id, next.Seq)
			return true
		}
	}
	return false
}

func TestSizerFitsExactlyTheLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 200 {
		samples := randomSamples(rng, 1+rng.IntN(50))
		limit := MinMaxBytes + rng.IntN(300)
		z := newSizer(uint64(trial))
		n := z.fit(3, samples, limit, false)
		b := Batch{ID: uint64(trial), Runs: appendRuns(nil, 3, mm2.EVT, samples[:n])}
		if n == 0 {
			t.Fatalf("trial %d: nothing fits in %d bytes", trial, limit)
		}
		if got := EncodedSize(&b); got != z.size() || got > limit {
			t.Fatalf("trial %d: sizer %d, encoded %d, limit %d", trial, z.size(), got, limit)
		}
		if n < len(samples) {
			b2 := Batch{ID: uint64(trial), Runs: appendRuns(nil, 3, mm2.EVT, samples[:n+1])}
			if EncodedSize(&b2) <= limit {
				t.Fatalf("trial %d: %d records fit but the sizer took %d", trial, n+1, n)
			}
		}
	}
}

// A timeout is never an ACK: a Send that blocks past the deadline, and one
// that confirms only after it, both leave every record unacknowledged.
func TestTimeoutIsNeverTreatedAsAck(t *testing.T) {
	for _, o := range []outcome{timeOut, lateConfirm} {
		t.Run(map[outcome]string{timeOut: "blocks", lateConfirm: "confirms-late"}[o], func(t *testing.T) {
			m := openManager(t)
			f := newFeed(t, m)
			id := mm2.StreamID{Source: mm2.Hosted, Sensor: 3}
			f.write(id, 30)
			cfg := fastConfig()
			cfg.Timeout = 20 * time.Millisecond
			u, err := New(m, &fake{t: t, l: newLedger(), plan: func(int, *Batch) outcome { return o }}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			stop := runUplink(t, u)
			waitFor(t, "three timeouts", func() bool { return u.Stats().Total.Timeouts >= 3 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			h, _ := m.Stream(id)
			if c := h.Counts(); c.New != 30 || c.Pending != 0 {
				t.Errorf("after timeouts: %+v, want all 30 unread", c)
			}
			if st := u.Stats().Total; st.Acks != 0 || st.Nacks != st.Batches {
				t.Errorf("stats: %+v", st)
			}
		})
	}
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	m := openManager(t)
	u, err := New(m, SenderFunc(func(context.Context, *Batch) error { return nil }),
		Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := u.backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff after %d failures: %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := u.backoff(1000); got != time.Second {
		t.Errorf("backoff after 1000 failures: %v", got)
	}
	u.cfg.Rand = rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 10; n++ {
		full := min(100*time.Millisecond<<(n-1), time.Second)
		if got := u.backoff(n); got < full/2 || got > full {
			t.Errorf("jittered backoff %v outside [%v, %v]", got, full/2, full)
		}
	}
}

func TestBackoffSpacesRetries(t *testing.T) {
	m := openManager(t)
	newFeed(t, m).write(mm2.StreamID{Source: mm2.Gateway, Sensor: 0}, 5)
	var mu sync.Mutex
	var at []time.Time
	cfg := Config{MinBackoff: 20 * time.Millisecond, MaxBackoff: 80 * time.Millisecond, Poll: time.Millisecond}
	u, err := New(m, SenderFunc(func(context.Context, *Batch) error {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, time.Now())
		return errors.New("down")
	}), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := runUplink(t, u)
	waitFor(t, "six attempts", func() bool { mu.Lock(); defer mu.Unlock(); return len(at) >= 6 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, w := range []time.Duration{20, 40, 80, 80, 80} {
		if gap := at[i+1].Sub(at[i]); gap < w*time.Millisecond {
			t.Errorf("retry %d came %v after the failure, backoff is %v", i+1, gap, w*time.Millisecond)
		}
	}
}

func TestGivesUpAfterMaxAttemptsKeepingRecordsUnread(t *testing.T) {
	m := openManager(t)
	id := mm2.StreamID{Source: mm2.BLE, Sensor: 4}
	newFeed(t, m).write(id, 12)
	cfg := fastConfig()
	cfg.MaxAttempts = 3
	u, err := New(m, SenderFunc(func(context.Context, *Batch) error { return errors.New("down") }), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := u.Run(ctx); !errors.Is(err, ErrGaveUp) {
		t.Fatalf("Run: %v, want ErrGaveUp", err)
	}
	h, _ := m.Stream(id)
	if c := h.Counts(); c.New != 12 || c.Pending != 0 {
		t.Errorf("after giving up: %+v", c)
	}
	if n := u.Stats().Total.Nacks; n != 3 {
		t.Errorf("%d NACKs, want 3", n)
	}
}

func TestCancelNacksTheBatchInFlight(t *testing.T) {
	m := openManager(t)
	id := mm2.StreamID{Source: mm2.Gateway, Sensor: 2}
	newFeed(t, m).write(id, 10)
	sending := make(chan struct{})
	cfg := fastConfig()
	cfg.Timeout = testTimeout
	u, err := New(m, SenderFunc(func(ctx context.Context, _ *Batch) error {
		close(sending)
		<-ctx.Done()
		return ctx.Err()
	}), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := runUplink(t, u)
	<-sending
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	h, _ := m.Stream(id)
	if c := h.Counts(); c.New != 10 || c.Pending != 0 {
		t.Errorf("after cancel: %+v, want the batch NACKed", c)
	}
}

func TestStreamsConfiguredAfterStartArePickedUp(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	l := newLedger()
	u, err := New(m, &fake{t: t, l: l}, fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	runUplink(t, u)
	for i := range 5 {
		time.Sleep(5 * time.Millisecond)
		f.write(mm2.StreamID{Source: mm2.Source(i), Sensor: uint32(100 + i)}, 10)
		u.Wake()
	}
	waitFor(t, "new streams drained", func() bool {
		return u.Stats().Total.AckedRecords == 50 && allAcked(m)
	})
	l.check(t, f.snapshot())
}

func TestRecordsLeftPendingAreSentNotStuck(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	l := newLedger()
	id := mm2.StreamID{Source: mm2.Hosted, Sensor: 2}
	f.write(id, 10)
	h, _ := m.Stream(id)
	if _, err := h.ReadBulk(make([]mm2.Sample, 4)); err != nil {
		t.Fatal(err)
	}
	u, err := New(m, &fake{t: t, l: l}, fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := u.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	l.check(t, f.snapshot())
}

func TestAckIsRefusedWhenAnotherReaderTookRecords(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	l := newLedger()
	id := mm2.StreamID{Source: mm2.Gateway, Sensor: 2}
	f.write(id, 10)
	h, _ := m.Stream(id)
	cfg := fastConfig()
	cfg.MaxRecords = 5
	var once sync.Once
	var conflicts int
	cfg.OnResult = func(b *Batch, err error) {
		if errors.Is(err, ErrConflict) {
			conflicts++
			l.fail(b) // delivered but NACKed: its records come again
		}
	}
	u, err := New(m, &fake{t: t, l: l, hook: func(*Batch) {
		once.Do(func() {
			// Another reader marks more records pending while the batch is out.
			if _, err := h.Read(); err != nil {
				t.Error(err)
			}
		})
	}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := u.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := u.Stats().Total.Conflicts; n != 1 || conflicts != 1 {
		t.Errorf("%d conflicts counted, %d reported, want 1", n, conflicts)
	}
	l.check(t, f.snapshot())
}

func TestRunTwiceAtOnceIsRefused(t *testing.T) {
	m := openManager(t)
	u, err := New(m, &fake{t: t, l: newLedger()}, fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	runUplink(t, u)
	waitFor(t, "Run started", func() bool { return u.running.Load() })
	if err := u.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run: %v", err)
	}
}

func TestRunReturnsManagerErrors(t *testing.T) {
	p := mm2.ProfileLinux
	m, err := mm2.Open(mm2.Options{Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	newFeed(t, m).write(mm2.StreamID{Source: mm2.Gateway, Sensor: 1}, 3)
	m.Close()
	u, err := New(m, &fake{t: t, l: newLedger()}, fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := u.Run(ctx); !errors.Is(err, mm2.ErrClosed) {
		t.Fatalf("Run on a closed manager: %v", err)
	}
}

func TestConfigIsValidated(t *testing.T) {
	m := openManager(t)
	s := SenderFunc(func(context.Context, *Batch) error { return nil })
	for name, c := range map[string]Config{
		"tiny MaxBytes":    {MaxBytes: MinMaxBytes - 1},
		"negative records": {MaxRecords: -1},
		"backoff inverted": {MinBackoff: time.Second, MaxBackoff: time.Millisecond},
		"too many flights": {MaxInFlight: mm2.MaxSources + 1},
		"bad source":       {Sources: []mm2.Source{mm2.MaxSources}},
		"repeated source":  {Sources: []mm2.Source{mm2.CAN, mm2.CAN}},
		"no source":        {Sources: []mm2.Source{}},
		"negative retries": {MaxAttempts: -1},
	} {
		if _, err := New(m, s, c); !errors.Is(err, mm2.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	u, err := New(m, s, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c := u.Config(); c.MaxBytes != DefaultMaxBytes || len(c.Sources) != mm2.MaxSources || c.MaxInFlight != 1 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestOnlyConfiguredSourcesAreServedInRotation(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	for src := range mm2.Source(4) {
		f.write(mm2.StreamID{Source: src, Sensor: 1}, 30)
	}
	var mu sync.Mutex
	var order []mm2.Source
	cfg := fastConfig()
	cfg.MaxRecords = 10
	cfg.Sources = []mm2.Source{mm2.CAN, mm2.Gateway, mm2.BLE}
	u, err := New(m, SenderFunc(func(_ context.Context, b *Batch) error {
		mu.Lock()
		order = append(order, b.Source)
		mu.Unlock()
		return nil
	}), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := u.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	want := []mm2.Source{mm2.CAN, mm2.Gateway, mm2.BLE, mm2.CAN, mm2.Gateway, mm2.BLE, mm2.CAN, mm2.Gateway, mm2.BLE}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	h, _ := m.Stream(mm2.StreamID{Source: mm2.Hosted, Sensor: 1})
	if c := h.Counts(); c.New != 30 {
		t.Errorf("Hosted is not served but changed: %+v", c)
	}
}

// The backoff runs on Config.Clock: after a failure with an hour's backoff
// the uplink sends again only once that clock has moved an hour on, however
// little real time passed.
func TestBackoffUsesConfigClock(t *testing.T) {
	m := openManager(t)
	f := newFeed(t, m)
	id := mm2.StreamID{Source: mm2.CAN, Sensor: 2}
	f.write(id, 10)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	var calls atomic.Int64
	var secondAt atomic.Int64
	send := SenderFunc(func(ctx context.Context, b *Batch) error {
		if calls.Add(1) == 1 {
			return errors.New("link down")
		}
		secondAt.CompareAndSwap(0, now.Load())
		return nil
	})
	cfg := fastConfig()
	cfg.MinBackoff, cfg.MaxBackoff, cfg.Clock = time.Hour, time.Hour, clock
	u, err := New(m, send, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- u.Drain(ctx) }()
	waitFor(t, "the first failure", func() bool { return u.Stats().Total.Nacks == 1 })
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d sends before the clock moved, want 1", n)
	}
	now.Store(t0.Add(time.Hour).UnixNano())
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(0, secondAt.Load()); got.Before(t0.Add(time.Hour)) {
		t.Errorf("second send at %v, before the backoff ended on the clock (%v)", got, t0.Add(time.Hour))
	}
	if c, _ := m.Stream(id); c.Counts().Total != 0 {
		t.Errorf("%d records left after the drain", c.Counts().Total)
	}
}
