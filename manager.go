package mm2

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/mm2go/mm2/internal/pool"
	"github.com/mm2go/mm2/vfs"
)

// streamChunk is how many streams are allocated at once. Handles point into
// chunks, so a chunk never moves; small profiles get one chunk of exactly
// MaxStreams so their footprint is fixed from Open on.
const streamChunk = 256

// Manager is the memory manager. All its methods and those of its Streams
// are safe for concurrent use; one mutex serialises them.
type Manager struct {
	mu   sync.Mutex
	opts Options
	pool *pool.Pool
	now  func() int64
	log  *slog.Logger

	disk *diskTier // nil for the mock backend

	chunks  [][]Stream // stream table; handles point into it
	nStream int
	index   []uint16 // stream indexes sorted by StreamID

	gps    [MaxSources]GPSConfig
	gpsSet uint8 // bit per source

	utcOK    bool
	closed   bool
	powering bool

	allocs, allocFails, frees, rejected uint64
	drops                               Drops
	utilStep                            int // last logged utilisation decile
	gapSecs                             int // gap sectors in all chains (gap.go)
}

// Open creates a manager. With Options.Dir empty it is the mock backend:
// RAM only, nothing touches the filesystem. Otherwise it is the disk
// backend rooted at Dir, and Open recovers what the directory holds (see
// Damage for what it skipped); it fails only when Dir cannot be used.
func Open(opts Options) (*Manager, error) { return OpenFS(opts, vfs.OS()) }

// OpenFS is Open with the disk backend on fsys: the seam through which the
// project's tests crash the machine or fill the disk. fsys is ignored by
// the mock backend.
func OpenFS(opts Options, fsys vfs.FS) (*Manager, error) { return openFS(opts, fsys, false) }

// OpenReadOnly opens the store in opts.Dir for inspection (status, dump):
// recovery runs in memory only, nothing on disk changes (no repair, no
// quarantine, no checkpoint), and every write or ACK that would reach the
// disk fails. Close it without writing; its Close changes nothing either.
func OpenReadOnly(opts Options) (*Manager, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: OpenReadOnly needs a store directory", ErrInvalidArgument)
	}
	if _, err := vfs.OS().Stat(opts.Dir); err != nil {
		return nil, fmt.Errorf("mm2: %w", err)
	}
	return openFS(opts, vfs.ReadOnly(vfs.OS()), true)
}

func openFS(opts Options, fsys vfs.FS, readOnly bool) (*Manager, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := o.Profile
	n := p.PoolBytes / p.SectorSize
	pl, err := pool.New(n, p.SectorSize, p.SectorIDBits == 32)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	m := &Manager{opts: o, pool: pl, log: o.Logger}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if o.Clock != nil {
		clock := o.Clock
		m.now = func() int64 { return clock().UnixMilli() }
	} else {
		m.now = func() int64 { return time.Now().UnixMilli() }
	}
	m.utcOK = !p.NeedUTC
	if p.MaxStreams <= streamChunk {
		m.chunks = make([][]Stream, 0, 1)
		m.chunks = append(m.chunks, make([]Stream, p.MaxStreams))
		m.index = make([]uint16, 0, p.MaxStreams)
	}
	if p.BudgetBytes > 0 {
		if worst := m.worstFootprint(); worst > p.BudgetBytes {
			return nil, fmt.Errorf("%w: profile %q needs %d bytes with %d streams, over its budget of %d",
				ErrInvalidArgument, p.Name, worst, p.MaxStreams, p.BudgetBytes)
		}
	}
	if o.Dir != "" {
		if err := m.openDisk(fsys, readOnly); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// lockOpen takes the manager's lock, or returns ErrClosed without it.
func (m *Manager) lockOpen() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// Close ends the manager; every later call returns ErrClosed.
func (m *Manager) Close() error {
	if err := m.lockOpen(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.closed = true
	if d := m.disk; d != nil {
		return d.close()
	}
	return nil
}

// Profile is the profile the manager runs with, after Options were applied.
func (m *Manager) Profile() Profile { return m.opts.Profile }

// Configure declares a stream and returns its handle. It is idempotent for
// the same kind and period; another kind or period returns ErrKindMismatch.
// The period applies to TSD only and must be a positive whole number of
// milliseconds; EVT takes period 0. Errors: ErrClosed, ErrInvalidArgument,
// ErrKindMismatch, ErrFull (stream table full).
func (m *Manager) Configure(id StreamID, kind Kind, period time.Duration) (*Stream, error) {
	if err := m.lockOpen(); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	return m.configureLocked(id, kind, period)
}

func (m *Manager) configureLocked(id StreamID, kind Kind, period time.Duration) (*Stream, error) {
	if id.Source >= MaxSources {
		return nil, fmt.Errorf("%w: source %d out of 0..%d", ErrInvalidArgument, id.Source, MaxSources-1)
	}
	var ms uint32
	switch kind {
	case TSD:
		if period < time.Millisecond || period%time.Millisecond != 0 || period/time.Millisecond > 1<<32-1 {
			return nil, fmt.Errorf("%w: TSD period %v is not a whole number of milliseconds in 1 ms..49 days", ErrInvalidArgument, period)
		}
		ms = uint32(period / time.Millisecond)
	case EVT:
		if period != 0 {
			return nil, fmt.Errorf("%w: EVT streams take period 0, not %v", ErrInvalidArgument, period)
		}
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrInvalidArgument, kind)
	}
	pos, found := m.search(id)
	if found {
		s := m.at(m.index[pos])
		if s.kind != kind || s.periodMs != ms {
			return nil, fmt.Errorf("%w: stream %v is %v with period %d ms", ErrKindMismatch, id, s.kind, s.periodMs)
		}
		return s, nil
	}
	if m.nStream >= m.opts.Profile.MaxStreams {
		return nil, fmt.Errorf("%w: stream table holds its maximum of %d streams", ErrFull, m.opts.Profile.MaxStreams)
	}
	idx := m.nStream
	if len(m.chunks) == 0 || idx >= len(m.chunks)*len(m.chunks[0]) {
		m.chunks = append(m.chunks, make([]Stream, streamChunk))
	}
	m.nStream++
	s := m.at(uint16(idx))
	*s = Stream{m: m, sensor: id.Sensor, source: id.Source, kind: kind, periodMs: ms, idx: uint16(idx)}
	m.index = append(m.index, 0)
	copy(m.index[pos+1:], m.index[pos:])
	m.index[pos] = uint16(idx)
	if d := m.disk; d != nil {
		d.configure(s)
	}
	return s, nil
}

// at is the stream with table index i.
func (m *Manager) at(i uint16) *Stream {
	size := len(m.chunks[0])
	return &m.chunks[int(i)/size][int(i)%size]
}

// search finds id in the sorted index.
func (m *Manager) search(id StreamID) (int, bool) {
	pos := sort.Search(len(m.index), func(i int) bool { return !m.at(m.index[i]).ID().less(id) })
	return pos, pos < len(m.index) && m.at(m.index[pos]).ID() == id
}

// Stream returns the handle of a configured stream. Errors: ErrClosed,
// ErrUnknownStream.
func (m *Manager) Stream(id StreamID) (*Stream, error) {
	if err := m.lockOpen(); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	pos, found := m.search(id)
	if !found {
		return nil, fmt.Errorf("%w: %v", ErrUnknownStream, id)
	}
	return m.at(m.index[pos]), nil
}

// Streams lists the configured streams in (source, sensor) order.
func (m *Manager) Streams() []StreamID {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]StreamID, len(m.index))
	for i, x := range m.index {
		ids[i] = m.at(x).ID()
	}
	return ids
}

// SetUTCAvailable tells an MCU profile whether UTC is known; before it is,
// writes fail with ErrUTCNotAvailable. Profiles without NeedUTC ignore false.
func (m *Manager) SetUTCAvailable(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed { // a closed manager changes no more
		m.utcOK = ok || !m.opts.Profile.NeedUTC
	}
}

// SetGPS names the EVT sensors of src that receive the GPS fix of
// WriteEventWithGPS, configuring any that do not exist yet. Errors:
// ErrClosed, ErrInvalidArgument (bad source, repeated sensor), ErrKindMismatch
// (a named sensor is a TSD stream), ErrFull (no room in the stream table);
// on error nothing changes.
func (m *Manager) SetGPS(src Source, cfg GPSConfig) error {
	if err := m.lockOpen(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if src >= MaxSources {
		return fmt.Errorf("%w: source %d out of 0..%d", ErrInvalidArgument, src, MaxSources-1)
	}
	ids := cfg.sensors()
	missing := 0
	for i, sensor := range ids {
		for _, other := range ids[:i] {
			if other == sensor {
				return fmt.Errorf("%w: GPS sensor %d named twice", ErrInvalidArgument, sensor)
			}
		}
		pos, found := m.search(StreamID{src, sensor})
		if !found {
			missing++
		} else if s := m.at(m.index[pos]); s.kind != EVT {
			return fmt.Errorf("%w: GPS sensor %v is a %v stream", ErrKindMismatch, s.ID(), s.kind)
		}
	}
	if m.nStream+missing > m.opts.Profile.MaxStreams {
		return fmt.Errorf("%w: no room for %d GPS streams", ErrFull, missing)
	}
	for _, sensor := range ids {
		if _, err := m.configureLocked(StreamID{src, sensor}, EVT, 0); err != nil {
			panic("mm2: GPS configure after checks: " + err.Error())
		}
	}
	m.gps[src] = cfg
	m.gpsSet |= 1 << src
	return nil
}

func (c GPSConfig) sensors() [4]uint32 {
	return [4]uint32{c.Latitude, c.Longitude, c.Altitude, c.Speed}
}

// PowerDown starts a power-down: from now on writes fail with
// ErrPoweringDown; reads, ACKs and NACKs still work. The disk backend
// syncs the log and writes a clean checkpoint holding every stream's
// cursors, the RAM tier's unacknowledged records and the frames being
// filled, before ctx's deadline (ctx.Err() otherwise). The mock backend has
// nothing to spool. Errors: ErrClosed, ctx.Err(), disk errors.
func (m *Manager) PowerDown(ctx context.Context) error {
	if err := m.lockOpen(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.powering = true
	if m.disk == nil {
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.disk.powerDown()
}

// PowerAbort ends a power-down (power came back) and resumes writes.
// Errors: ErrClosed, ErrInvalidArgument when no power-down is in progress.
func (m *Manager) PowerAbort() error {
	if err := m.lockOpen(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if !m.powering {
		return fmt.Errorf("%w: no power-down in progress", ErrInvalidArgument)
	}
	m.powering = false
	if d := m.disk; d != nil {
		return d.powerAbort()
	}
	return nil
}
