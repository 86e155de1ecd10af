// Package uplink drains a mm2.Manager to a Sender: the read → send →
// ACK/NACK loop of a gateway.
//
// Sources are served in rotation (Gateway, Hosted, BLE, CAN, then 4..7).
// Each source has at most one batch in flight. A batch is filled with
// ReadBulk only with records that fit its byte and record limits: each read
// asks for no more records than fit the room left even at the largest
// encoding a record can have, and the exact size of what was read then
// decides the room of the next read, so every record is read once and
// nothing is read that is not sent. When the Sender confirms delivery, exactly the streams of that
// batch are ACKed; when it fails, times out or confirms only after its
// deadline, exactly those streams are NACKed (their records are read again,
// in order, with the same sequence numbers) and the source backs off
// exponentially up to a cap. The batch remembers its source and streams, so
// the ACK never goes anywhere else, whatever the rotation did meanwhile.
// Delivery is at least once: a record is sent again only after an attempt
// that carried it failed or timed out.
//
// The Uplink must be the only reader of the manager's streams of the sources
// it serves: ACK erases all of a stream's pending records. Records left
// pending by someone else are NACKed (made unread) before a batch is built.
package uplink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mm2go/mm2"
)

// Defaults of Config.
const (
	// DefaultMaxBytes keeps a batch well inside one MQTT packet of a modest
	// broker limit and a cellular link's good-put per round trip.
	DefaultMaxBytes = 16 << 10
	// DefaultMaxRecords bounds the sample buffer of a source (24 bytes a record).
	DefaultMaxRecords = 4096
	// DefaultTimeout: a confirmation later than this is treated as missing.
	DefaultTimeout = 10 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff: the first retry waits the
	// minimum, each further failure doubles it, up to the cap.
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultPoll is how long an idle uplink waits before looking for new
	// data (Wake cuts it short).
	DefaultPoll = 100 * time.Millisecond
	// MinMaxBytes is the smallest byte limit that holds any one record:
	// header with the largest batch id, the largest run header and record,
	// trailer.
	MinMaxBytes = headerFixed + 10 + 1 + (5 + 1 + 5 + 10) + maxRecordSize + trailerSize
)

// Errors of Run and Drain.
var (
	// ErrRunning: Run or Drain is already running on this Uplink.
	ErrRunning = errors.New("uplink: already running")
	// ErrGaveUp: a source failed Config.MaxAttempts sends in a row. Its
	// records stay in the manager, unread.
	ErrGaveUp = errors.New("uplink: gave up")
	// ErrLateConfirmation: the Sender confirmed after Config.Timeout; the
	// batch is NACKed as if it had timed out.
	ErrLateConfirmation = errors.New("uplink: confirmation after the timeout")
	// ErrConflict: a stream of a confirmed batch had other records pending
	// than the batch carried (another reader), so it was NACKed, not ACKed.
	ErrConflict = errors.New("uplink: pending records do not match the batch")
)

// Sender delivers one batch. Send returns nil only once the receiver has
// confirmed delivery. It must return soon after ctx is done (the uplink's
// timeout is on ctx), and must not keep b or anything b points to after it
// returns: the uplink reuses them.
type Sender interface {
	Send(ctx context.Context, b *Batch) error
}

// Connector is a Sender that knows whether its connection is up now, as
// MQTT does; the metrics show it as mm2_uplink_connected.
type Connector interface {
	Connected() bool
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, b *Batch) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, b *Batch) error { return f(ctx, b) }

// Config tunes an Uplink. The zero value is usable.
type Config struct {
	MaxBytes    int           // encoded payload limit; 0 = DefaultMaxBytes
	MaxRecords  int           // records per batch; 0 = DefaultMaxRecords
	Timeout     time.Duration // per Send; 0 = DefaultTimeout
	MinBackoff  time.Duration // 0 = DefaultMinBackoff
	MaxBackoff  time.Duration // 0 = DefaultMaxBackoff
	MaxAttempts int           // failed sends in a row of one source before Run returns ErrGaveUp; 0 = retry forever
	MaxInFlight int           // batches in flight at once, each of another source; 0 = 1
	Poll        time.Duration // idle wait; 0 = DefaultPoll
	Sources     []mm2.Source  // served sources in rotation order; nil = all MaxSources in order
	Rand        *rand.Rand    // jitter for the backoff (half fixed, half random); nil = none
	// Clock is the time the backoff is set and checked against; nil =
	// time.Now. Send latency and the Timeout are measured on the
	// monotonic clock of the process, whatever Clock says.
	Clock  func() time.Time
	Logger *slog.Logger // nil = discard
	// OnResult, if set, is called on the uplink's goroutine right after a
	// batch was settled: err nil after its ACK, else the cause of its NACK
	// (ErrConflict when delivered but NACKed because another reader
	// interfered: its records come again).
	// b is valid only during the call. Keep it short: it delays the next batch.
	OnResult func(b *Batch, err error)
}

func (c Config) withDefaults() (Config, error) {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1
	}
	def(&c.Timeout, DefaultTimeout)
	def(&c.MinBackoff, DefaultMinBackoff)
	def(&c.MaxBackoff, DefaultMaxBackoff)
	def(&c.Poll, DefaultPoll)
	if c.Sources == nil {
		for s := range mm2.MaxSources {
			c.Sources = append(c.Sources, mm2.Source(s))
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	bad := func(format string, a ...any) (Config, error) {
		return c, fmt.Errorf("%w: uplink: %s", mm2.ErrInvalidArgument, fmt.Sprintf(format, a...))
	}
	switch {
	case c.MaxBytes < MinMaxBytes:
		return bad("MaxBytes %d is below the minimum %d", c.MaxBytes, MinMaxBytes)
	case c.MaxRecords < 1:
		return bad("MaxRecords %d", c.MaxRecords)
	case c.Timeout < 0, c.MinBackoff < 0, c.Poll < 0:
		return bad("negative duration")
	case c.MaxBackoff < c.MinBackoff:
		return bad("MaxBackoff %v below MinBackoff %v", c.MaxBackoff, c.MinBackoff)
	case c.MaxAttempts < 0:
		return bad("MaxAttempts %d", c.MaxAttempts)
	case c.MaxInFlight < 1 || c.MaxInFlight > mm2.MaxSources:
		return bad("MaxInFlight %d (1..%d)", c.MaxInFlight, mm2.MaxSources)
	case len(c.Sources) == 0:
		return bad("no sources")
	}
	var seen [mm2.MaxSources]bool
	for _, s := range c.Sources {
		if s >= mm2.MaxSources || seen[s] {
			return bad("source %d out of range or repeated", s)
		}
		seen[s] = true
	}
	c.Sources = append([]mm2.Source(nil), c.Sources...)
	return c, nil
}

// Uplink drains a manager to a Sender. Create it with New; Stats and Wake
// are safe to call at any time from any goroutine.
type Uplink struct {
	m       *mm2.Manager
	s       Sender
	cfg     Config
	log     *slog.Logger
	running atomic.Bool
	wake    chan struct{}

	// The dispatcher's state: touched only by the goroutine in run.
	src     [mm2.MaxSources]source
	handles map[mm2.StreamID]*mm2.Stream
	rot     int // index into cfg.Sources where the next round starts
	nextID  uint64

	mu    sync.Mutex // guards stats
	stats Stats
}

// source is the per-source state of the dispatcher.
type source struct {
	inFlight bool
	failures int
	retryAt  time.Time
	backoff  time.Duration
	next     uint32 // sensor the next batch starts at (round robin)
	buf      []mm2.Sample
	batch    Batch
	streams  []part // distinct streams in the batch
}

// part is one stream's share of a batch: what its ACK or NACK must cover.
type part struct {
	h *mm2.Stream
	n int
}

// result is a finished Send.
type result struct {
	src     mm2.Source
	err     error
	timeout bool
	latency time.Duration
}

// New returns an Uplink that drains m to s.
func New(m *mm2.Manager, s Sender, cfg Config) (*Uplink, error) {
	if m == nil || s == nil {
		return nil, fmt.Errorf("%w: uplink: nil manager or sender", mm2.ErrInvalidArgument)
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	u := &Uplink{
		m: m, s: s, cfg: c, log: c.Logger,
		wake:    make(chan struct{}, 1),
		handles: make(map[mm2.StreamID]*mm2.Stream),
	}
	u.stats.Latency = newHistogram()
	return u, nil
}

// Config returns the configuration in force, defaults applied.
func (u *Uplink) Config() Config { return u.cfg }

// Sender returns the Sender the uplink sends through.
func (u *Uplink) Sender() Sender { return u.s }

// Wake ends an idle wait early, e.g. after a write burst. It never blocks.
func (u *Uplink) Wake() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Run drains the manager until ctx is done, then waits for the batches in
// flight (their Sends see ctx done), ACKs the confirmed ones, NACKs the others
// and returns nil. It returns an error early only when the manager fails (for
// example ErrClosed) or a source gave up (ErrGaveUp).
func (u *Uplink) Run(ctx context.Context) error { return u.run(ctx, false) }

// Drain is Run that also returns nil as soon as every served stream has
// nothing unread or pending and nothing is in flight.
func (u *Uplink) Drain(ctx context.Context) error { return u.run(ctx, true) }

func (u *Uplink) run(ctx context.Context, drain bool) (err error) {
	if !u.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer u.running.Store(false)
	done := make(chan result, mm2.MaxSources)
	inFlight := 0
	defer func() {
		for inFlight > 0 {
			r := <-done
			inFlight--
			if e := u.settle(r); e != nil && err == nil {
				err = e
			}
		}
		u.setInFlight(0)
	}()
	for {
		if ctx.Err() != nil {
			return nil
		}
		launched := false
		ids := u.m.Streams()
		n := len(u.cfg.Sources)
		for k := 0; k < n && inFlight < u.cfg.MaxInFlight; k++ {
			i := (u.rot + k) % n
			src := u.cfg.Sources[i]
			st := &u.src[src]
			if st.inFlight || u.cfg.Clock().Before(st.retryAt) {
				continue
			}
			b, err := u.build(src, ids)
			if err != nil {
				return err
			}
			if b == nil {
				continue
			}
			u.launch(ctx, b, done)
			inFlight++
			launched = true
			u.rot = (i + 1) % n
		}
		u.setInFlight(inFlight)
		if launched && inFlight < u.cfg.MaxInFlight {
			continue
		}
		if drain && !launched && inFlight == 0 && u.empty(ids) {
			return nil
		}
		wait := u.cfg.Poll
		now := u.cfg.Clock()
		for _, s := range u.cfg.Sources {
			if st := &u.src[s]; !st.inFlight && st.retryAt.After(now) {
				wait = min(wait, st.retryAt.Sub(now))
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case r := <-done:
			inFlight--
			if err := u.settle(r); err != nil {
				t.Stop()
				return err
			}
		case <-t.C:
		case <-u.wake:
		}
		t.Stop()
		// Settle whatever else finished meanwhile before building again.
		for more := true; more; {
			select {
			case r := <-done:
				inFlight--
				if err := u.settle(r); err != nil {
					return err
				}
			default:
				more = false
			}
		}
	}
}

// launch sends b on its own goroutine; the result comes back on done.
func (u *Uplink) launch(ctx context.Context, b *Batch, done chan<- result) {
	src := b.Source
	u.src[src].inFlight = true
	recs, size := b.Records(), EncodedSize(b)
	u.count(src, func(s *SourceStats) {
		s.Batches++
		s.Records += uint64(recs)
		s.Bytes += uint64(size)
	})
	timeout := u.cfg.Timeout
	go func() {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		err := u.s.Send(sctx, b)
		lat := time.Since(start)
		timedOut := errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		cancel()
		if err == nil && lat > timeout {
			err = fmt.Errorf("%w: %v > %v", ErrLateConfirmation, lat, timeout)
			timedOut = true
		}
		done <- result{src: src, err: err, timeout: err != nil && timedOut, latency: lat}
	}()
}

// settle ACKs or NACKs exactly the streams of the finished batch of r.src.
func (u *Uplink) settle(r result) error {
	st := &u.src[r.src]
	st.inFlight = false
	u.observe(r.latency)
	b := &st.batch
	recs := b.Records()
	if r.err == nil {
		var conflict error
		for _, p := range st.streams {
			if c := p.h.Counts(); c.Pending != p.n {
				// Someone else read this stream: an ACK would erase records
				// this batch did not carry. Send them all again instead.
				u.log.Error("uplink: pending records do not match the batch; NACK instead of ACK",
					"stream", p.h.ID().String(), "pending", c.Pending, "batch", p.n)
				u.count(r.src, func(s *SourceStats) { s.Conflicts++ })
				conflict = ErrConflict
				if _, err := p.h.Nack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
					return fmt.Errorf("uplink: nack %v: %w", p.h.ID(), err)
				}
				continue
			}
			if _, err := p.h.Ack(); err != nil {
				return fmt.Errorf("uplink: ack %v: %w", p.h.ID(), err)
			}
		}
		if u.cfg.OnResult != nil {
			u.cfg.OnResult(b, conflict)
		}
		st.failures, st.backoff, st.retryAt = 0, 0, time.Time{}
		u.count(r.src, func(s *SourceStats) {
			s.Acks++
			s.AckedRecords += uint64(recs)
			s.Failures, s.Backoff = 0, 0
		})
		return nil
	}
	for _, p := range st.streams {
		if _, err := p.h.Nack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
			return fmt.Errorf("uplink: nack %v: %w", p.h.ID(), err)
		}
	}
	if u.cfg.OnResult != nil {
		u.cfg.OnResult(b, r.err)
	}
	st.failures++
	st.backoff = u.backoff(st.failures)
	st.retryAt = u.cfg.Clock().Add(st.backoff)
	u.count(r.src, func(s *SourceStats) {
		s.Nacks++
		s.NackedRecords += uint64(recs)
		if r.timeout {
			s.Timeouts++
		}
		s.Failures, s.Backoff = st.failures, st.backoff
	})
	u.log.Warn("uplink: send failed; records NACKed", "source", r.src.String(), "batch", b.ID,
		"records", recs, "attempt", st.failures, "retry_in", st.backoff, "err", r.err)
	if u.cfg.MaxAttempts > 0 && st.failures >= u.cfg.MaxAttempts {
		return fmt.Errorf("%w: source %v failed %d sends in a row: %w", ErrGaveUp, r.src, st.failures, r.err)
	}
	return nil
}

// backoff is the wait after the n-th failure in a row: MinBackoff doubled
// n-1 times, capped at MaxBackoff, with half of it random when Rand is set.
func (u *Uplink) backoff(n int) time.Duration {
	d := u.cfg.MinBackoff
	for i := 1; i < n && d < u.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, u.cfg.MaxBackoff)
	if u.cfg.Rand != nil && d > 1 {
		d = d/2 + time.Duration(u.cfg.Rand.Int64N(int64(d/2)+1))
	}
	return d
}

// empty reports whether no served stream holds unacknowledged records.
func (u *Uplink) empty(ids []mm2.StreamID) bool {
	var served [mm2.MaxSources]bool
	for _, s := range u.cfg.Sources {
		served[s] = true
	}
	for _, id := range ids {
		if !served[id.Source] {
			continue
		}
		h, err := u.handle(id)
		if err != nil || h.Counts().Total > 0 {
			return false
		}
	}
	return true
}

func (u *Uplink) handle(id mm2.StreamID) (*mm2.Stream, error) {
	if h, ok := u.handles[id]; ok {
		return h, nil
	}
	h, err := u.m.Stream(id)
	if err != nil {
		return nil, err
	}
	u.handles[id] = h
	return h, nil
}

// build fills the batch of src with what fits, or returns nil when src has
// nothing unread. ids is m.Streams(), sorted by (source, sensor).
func (u *Uplink) build(src mm2.Source, ids []mm2.StreamID) (*Batch, error) {
	lo := sort.Search(len(ids), func(i int) bool { return ids[i].Source >= src })
	hi := sort.Search(len(ids), func(i int) bool { return ids[i].Source > src })
	if lo == hi {
		return nil, nil
	}
	ids = ids[lo:hi]
	st := &u.src[src]
	if st.buf == nil {
		st.buf = make([]mm2.Sample, u.cfg.MaxRecords)
	}
	b := &st.batch
	b.Source, b.ID, b.Runs = src, u.nextID+1, b.Runs[:0]
	st.streams = st.streams[:0]
	z := newSizer(b.ID)
	used := 0
	first := sort.Search(len(ids), func(i int) bool { return ids[i].Sensor >= st.next })
	for k := range ids {
		// Stop when a record at its largest may not fit any more.
		if used == u.cfg.MaxRecords || u.cfg.MaxBytes-z.size() < maxRecordCost {
			break
		}
		id := ids[(first+k)%len(ids)]
		h, err := u.handle(id)
		if err != nil {
			return nil, fmt.Errorf("uplink: stream %v: %w", id, err)
		}
		c := h.Counts()
		if c.Pending > 0 {
			// Left pending by another reader or an earlier run that ended
			// without settling: make it unread so it is sent, not stuck.
			u.log.Warn("uplink: NACKing records left pending", "stream", id.String(), "records", c.Pending)
			if _, err := h.Nack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
				return nil, fmt.Errorf("uplink: nack %v: %w", id, err)
			}
			c.New += c.Pending
		}
		if c.New == 0 {
			continue
		}
		got, err := u.readFitting(h, &z, st.buf[used:used+min(c.New, u.cfg.MaxRecords-used)])
		if err != nil {
			return nil, err
		}
		if got == 0 {
			continue
		}
		st.streams = append(st.streams, part{h: h, n: got})
		b.Runs = appendRuns(b.Runs, id.Sensor, h.Kind(), st.buf[used:used+got])
		used += got
		st.next = id.Sensor + 1
	}
	if used == 0 {
		return nil, nil
	}
	u.nextID++
	return b, nil
}

// maxRecordCost bounds what one record can add to a batch: its value and
// time at their longest, the growth of its run's record count, and a run of
// its own (sensor, kind, count and first sequence number, at their longest,
// and the growth of the run count) should a sequence gap start one.
const maxRecordCost = maxRecordSize + 1 + (binary.MaxVarintLen32 + 1 + 1 + binary.MaxVarintLen64) + 1

// readFitting reads into dst the next records of h that fit the batch
// within MaxBytes, committing them to z, and returns how many it read. Each
// ReadBulk asks for no more records than fit the room left at
// maxRecordCost each, so whatever it returns fits; the exact size of what
// was read then leaves room for the next ReadBulk, until the room is below
// one record at its largest, dst is full or the stream has nothing more.
// Every record is read once and sent: none is read only to be measured.
func (u *Uplink) readFitting(h *mm2.Stream, z *sizer, dst []mm2.Sample) (int, error) {
	sensor, n := h.ID().Sensor, 0
	for n < len(dst) {
		k := min(len(dst)-n, (u.cfg.MaxBytes-z.size())/maxRecordCost)
		if k == 0 {
			break
		}
		got, err := h.ReadBulk(dst[n : n+k])
		if errors.Is(err, mm2.ErrNoData) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("uplink: read %v: %w", h.ID(), err)
		}
		if fit := z.fit(sensor, dst[n:n+got], u.cfg.MaxBytes, n > 0); fit != got {
			// Cannot happen while maxRecordCost bounds the encoding; should
			// it, the stream's reads are undone rather than sent in part.
			if _, err := h.Nack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
				return 0, fmt.Errorf("uplink: nack %v: %w", h.ID(), err)
			}
			return 0, fmt.Errorf("uplink: %d of %d records read from %v do not fit the batch", got-fit, got, h.ID())
		}
		n += got
		if got < k {
			break
		}
	}
	return n, nil
}

// appendRuns appends samples (one stream's, in order) as runs of consecutive
// sequence numbers.
func appendRuns(runs []Run, sensor uint32, kind mm2.Kind, samples []mm2.Sample) []Run {
	start := 0
	for i := 1; i <= len(samples); i++ {
		if i == len(samples) || samples[i].Seq != samples[i-1].Seq+1 {
			runs = append(runs, Run{Sensor: sensor, Kind: kind, Samples: samples[start:i]})
			start = i
		}
	}
	return runs
}
