package uplink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mm2go/mm2"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every wait of a test.
const testTimeout = 20 * time.Second

// openManager opens a RAM manager big enough that no test drops data.
func openManager(t *testing.T) *mm2.Manager {
	t.Helper()
	p := mm2.ProfileLinux
	p.PoolBytes = 1 << 20
	m, err := mm2.Open(mm2.Options{Profile: p, Overflow: mm2.RejectNew})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
		m.Close()
	})
	return m
}

// value is what the tests write as the seq-th record of id, so a receiver can
// tell a record filed under the wrong stream or source.
func value(id mm2.StreamID, seq uint64) uint32 {
	return uint32(id.Source)<<28 ^ id.Sensor*2654435761 ^ uint32(seq)*40503
}

// evtTime is the timestamp of the seq-th event of id.
func evtTime(id mm2.StreamID, seq uint64) int64 {
	return 1_700_000_000_000 + int64(seq)*137 + int64(id.Sensor)
}

// feed writes records with known values and remembers how many per stream.
type feed struct {
	t       *testing.T
	m       *mm2.Manager
	mu      sync.Mutex
	written map[mm2.StreamID]uint64
	kinds   map[mm2.StreamID]mm2.Kind
}

func newFeed(t *testing.T, m *mm2.Manager) *feed {
	return &feed{t: t, m: m, written: map[mm2.StreamID]uint64{}, kinds: map[mm2.StreamID]mm2.Kind{}}
}

// write appends n records to id, configuring it on first use (sensors with
// an even id are TSD, odd ones EVT).
func (f *feed) write(id mm2.StreamID, n int) {
	f.t.Helper()
	kind, period := mm2.TSD, 10*time.Millisecond
	if id.Sensor%2 == 1 {
		kind, period = mm2.EVT, 0
	}
	h, err := f.m.Configure(id, kind, period)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kinds[id] = kind
	for range n {
		seq := f.written[id] + 1
		if kind == mm2.TSD {
			err = h.WriteTSD(value(id, seq))
		} else {
			err = h.WriteEVT(value(id, seq), evtTime(id, seq))
		}
		if err != nil {
			f.t.Fatalf("write %v #%d: %v", id, seq, err)
		}
		f.written[id] = seq
	}
}

func (f *feed) snapshot() map[mm2.StreamID]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[mm2.StreamID]uint64, len(f.written))
	for k, v := range f.written {
		out[k] = v
	}
	return out
}

// ledger is the cloud side of a test: it records every attempt that failed
// (from the uplink's point of view) and every record delivered, and checks
// at the end that every record arrived at least once, in order per stream,
// with a duplicate only where an attempt carrying it failed.
type ledger struct {
	mu        sync.Mutex
	failed    map[mm2.StreamID]map[uint64]bool
	redeliver map[mm2.StreamID]map[uint64]bool // the protocol redelivered (MQTT DUP)
	got       map[mm2.StreamID][]uint64
	kinds     map[mm2.StreamID]mm2.Kind
	batches   int
	errs      []string
}

func newLedger() *ledger {
	return &ledger{
		failed: map[mm2.StreamID]map[uint64]bool{}, redeliver: map[mm2.StreamID]map[uint64]bool{},
		got: map[mm2.StreamID][]uint64{}, kinds: map[mm2.StreamID]mm2.Kind{},
	}
}

func mark(m map[mm2.StreamID]map[uint64]bool, b *Batch) {
	for i, r := range b.Runs {
		id := b.Stream(i)
		if m[id] == nil {
			m[id] = map[uint64]bool{}
		}
		for _, s := range r.Samples {
			m[id][s.Seq] = true
		}
	}
}

// fail records that an attempt carrying b did not count as delivered.
func (l *ledger) fail(b *Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	mark(l.failed, b)
}

// deliver records a decoded batch as received and checks every value.
func (l *ledger) deliver(b *Batch, protocolDup bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches++
	if protocolDup {
		mark(l.redeliver, b)
	}
	for i, r := range b.Runs {
		id := b.Stream(i)
		if k, ok := l.kinds[id]; ok && k != r.Kind {
			l.errs = append(l.errs, fmt.Sprintf("%v: kind %v, earlier %v", id, r.Kind, k))
		}
		l.kinds[id] = r.Kind
		for _, s := range r.Samples {
			if s.Value != value(id, s.Seq) {
				l.errs = append(l.errs, fmt.Sprintf("%v seq %d: value %#x, written %#x (filed under the wrong stream?)",
					id, s.Seq, s.Value, value(id, s.Seq)))
			}
			if r.Kind == mm2.EVT && s.UTCms != evtTime(id, s.Seq) {
				l.errs = append(l.errs, fmt.Sprintf("%v seq %d: time %d, written %d", id, s.Seq, s.UTCms, evtTime(id, s.Seq)))
			}
			l.got[id] = append(l.got[id], s.Seq)
		}
	}
}

// received is how many distinct records of id arrived in order so far.
func (l *ledger) received(id mm2.StreamID) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var hi uint64
	for _, s := range l.got[id] {
		if s == hi+1 {
			hi = s
		}
	}
	return hi
}

// check verifies the whole delivery against what was written and returns
// the number of duplicates.
func (l *ledger) check(t *testing.T, written map[mm2.StreamID]uint64) int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.errs[:min(len(l.errs), 10)] {
		t.Error(e)
	}
	dups := 0
	for id, n := range written {
		var hi uint64
		for _, s := range l.got[id] {
			switch {
			case s == hi+1:
				hi = s
			case s <= hi:
				dups++
				if !l.failed[id][s] && !l.redeliver[id][s] {
					t.Errorf("%v seq %d arrived again, but no attempt carrying it failed", id, s)
					return dups
				}
			default:
				t.Errorf("%v: seq %d arrived after %d: out of order or a gap", id, s, hi)
				return dups
			}
		}
		if hi != n {
			t.Errorf("%v: %d of %d records arrived", id, hi, n)
		}
	}
	for id := range l.got {
		if _, ok := written[id]; !ok {
			t.Errorf("%v: records arrived for a stream never written", id)
		}
	}
	return dups
}

// outcome is what the fake sender does with one attempt.
type outcome int

const (
	deliverOK   outcome = iota // deliver and confirm
	failFast                   // return an error, nothing delivered
	timeOut                    // nothing delivered, block until the deadline
	lateConfirm                // delivered, but confirmed only after the deadline
)

// fake is a Sender that encodes and decodes every batch (so the format is
// exercised on every test), applies a plan, and reports to a ledger.
type fake struct {
	t        *testing.T
	l        *ledger
	maxBytes int
	calls    atomic.Int64
	plan     func(call int, b *Batch) outcome // nil = always deliverOK
	hook     func(b *Batch)                   // runs inside Send, before the outcome
}

func (f *fake) Send(ctx context.Context, b *Batch) error {
	call := int(f.calls.Add(1))
	p, err := Encode(nil, b)
	if err != nil {
		f.t.Errorf("encode: %v", err)
		return err
	}
	if len(p) != EncodedSize(b) {
		f.t.Errorf("batch %d: EncodedSize %d, Encode wrote %d", b.ID, EncodedSize(b), len(p))
	}
	if f.maxBytes > 0 && len(p) > f.maxBytes {
		f.t.Errorf("batch %d: %d bytes over the limit %d", b.ID, len(p), f.maxBytes)
	}
	d, err := Decode(p)
	if err != nil {
		f.t.Errorf("decode: %v", err)
		return err
	}
	if f.hook != nil {
		f.hook(b)
	}
	o := deliverOK
	if f.plan != nil {
		o = f.plan(call, b)
	}
	switch o {
	case failFast:
		f.l.fail(&d)
		return errors.New("fake: link down")
	case timeOut:
		f.l.fail(&d)
		<-ctx.Done()
		return ctx.Err()
	case lateConfirm:
		f.l.fail(&d)
		f.l.deliver(&d, false)
		<-ctx.Done()
		time.Sleep(time.Millisecond)
		return nil
	}
	f.l.deliver(&d, false)
	return nil
}

// fastConfig keeps the waits of a test short.
func fastConfig() Config {
	return Config{
		Timeout: 50 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		Poll: 2 * time.Millisecond,
	}
}

// runUplink starts Run and returns a stop function that cancels it and
// returns its error.
func runUplink(t *testing.T, u *Uplink) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- u.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(testTimeout):
				err = errors.New("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("uplink Run: %v", err)
		}
	})
	return stop
}

// waitFor polls cond until it holds or the test timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// allAcked reports whether every stream of m is empty.
func allAcked(m *mm2.Manager) bool {
	st := m.Stats()
	return st.New == 0 && st.Pending == 0
}
