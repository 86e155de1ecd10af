package peers

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mm2go/mm2"

	"github.com/mm2go/mm2/bench/workload"
)

// mm2Period is the TSD period every stream is configured with; the workload's samples are
// spaced by it.
const mm2Period = time.Second

// mm2DiskCap lets the outage workload fill its target without mm2 dropping at its cap.
const mm2DiskCap = 4 << 30

// MM2Config says how the adapter opens mm2.
type MM2Config struct {
	// Policy is Options.Sync; the zero value is mm2's default policy.
	Policy mm2.SyncPolicy
	// SyncEach calls Manager.Sync after every appended entry and every ACK: the same
	// durability as a peer that syncs each entry (the synced rows).
	SyncEach bool
	// Streams are configured at Open: 0, 1, ... as Gateway sensors.
	Streams int
}

// MM2Store drives mm2 through its public API: the disk backend with the linux profile, one
// TSD stream per workload stream whatever the layout, a WriteBatch per appended entry
// (each sample with its own time), ReadBulk into a reused buffer, Ack.
type MM2Store struct {
	dir      string
	m        *mm2.Manager
	now      atomic.Int64 // UTC ms the clock returns: the time of the sample being written
	streams  []*mm2.Stream
	bufs     [][]mm2.Sample // per stream, reused by Read
	batch    []mm2.Write    // reused by Append
	syncEach bool
}

func mm2System() System {
	return System{
		Name:   "mm2",
		UsedBy: "this project (disk backend, linux profile)",
		Layout: "one TSD stream per sensor in every workload, one WriteBatch per entry of 100 samples (each with its own time), ReadBulk and Ack",
		Open:   OpenMM2,
	}
}

// OpenMM2 opens mm2 in dir under its default sync policy; synced adds a Manager.Sync after
// every appended entry and every ack (the same durability as a peer's sync per entry: the
// entry's records and the cursors are durable when the call returns). mm2 keeps one stream
// per sensor under either layout.
func OpenMM2(dir string, d workload.Durability, streams int, _ workload.Layout) (workload.Store, error) {
	return OpenMM2With(dir, MM2Config{SyncEach: d == workload.Synced, Streams: streams})
}

// OpenMM2With opens mm2 in dir as c says.
func OpenMM2With(dir string, c MM2Config) (*MM2Store, error) {
	return openMM2(dir, dir, c)
}

// openMM2 opens mm2 with its data under dataDir ("" = the RAM-only mock backend, for tests)
// and counts the disk bytes under dir.
func openMM2(dir, dataDir string, c MM2Config) (*MM2Store, error) {
	s := &MM2Store{dir: dir, syncEach: c.SyncEach}
	m, err := mm2.Open(mm2.Options{
		Dir:          dataDir,
		Profile:      mm2.ProfileLinux,
		Sync:         c.Policy,
		DiskCapBytes: mm2DiskCap,
		Clock:        func() time.Time { return time.UnixMilli(s.now.Load()) },
	})
	if err != nil {
		return nil, err
	}
	s.m = m
	for i := range c.Streams {
		st, err := m.Configure(mm2.StreamID{Source: mm2.Gateway, Sensor: uint32(i)}, mm2.TSD, mm2Period)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("mm2: configure stream %d: %w", i, err)
		}
		s.streams = append(s.streams, st)
	}
	s.bufs = make([][]mm2.Sample, c.Streams)
	return s, nil
}

// Manager is the manager the adapter drives.
func (s *MM2Store) Manager() *mm2.Manager { return s.m }

// Append writes the entry's records with one Manager.WriteBatch, each to its own stream
// with its own time, whatever queue says (one queue per stream is mm2's design), then
// syncs when the store syncs on every operation.
func (s *MM2Store) Append(_ uint16, recs []workload.Record) error {
	ws := s.batch[:0]
	for _, r := range recs {
		ws = append(ws, mm2.Write{Stream: s.streams[r.Stream], Value: r.Value, UTCms: r.UTC})
	}
	s.batch = ws
	if _, err := s.m.WriteBatch(ws); err != nil {
		return err
	}
	if s.syncEach {
		return s.m.Sync()
	}
	return nil
}

// WriteTSD writes one record with Stream.WriteTSD, the injected clock set to its time:
// what a sensor loop writing sample by sample calls.
func (s *MM2Store) WriteTSD(r workload.Record) error {
	s.now.Store(r.UTC)
	return s.streams[r.Stream].WriteTSD(r.Value)
}

// Read bulk-reads the oldest unread records of stream into dst.
func (s *MM2Store) Read(stream uint16, dst []workload.Record) (int, error) {
	buf := s.bufs[stream]
	if len(buf) < len(dst) {
		buf = make([]mm2.Sample, len(dst))
		s.bufs[stream] = buf
	}
	n, err := s.streams[stream].ReadBulk(buf[:len(dst)])
	if errors.Is(err, mm2.ErrNoData) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for i, smp := range buf[:n] {
		dst[i] = workload.Record{Stream: stream, Seq: smp.Seq, UTC: smp.UTCms, Value: smp.Value}
	}
	return n, nil
}

// Ack acknowledges what Read returned of stream (0 when nothing is
// pending), then syncs when the store syncs on every operation.
func (s *MM2Store) Ack(stream uint16) (int, error) {
	n, err := s.streams[stream].Ack()
	if errors.Is(err, mm2.ErrNoData) {
		return 0, nil // nothing was pending
	}
	if err != nil {
		return n, err
	}
	if s.syncEach {
		return n, s.m.Sync()
	}
	return n, nil
}

// Queues is one per stream under every layout.
func (s *MM2Store) Queues() int { return len(s.streams) }

// DiskBytes is the size of the store directory.
func (s *MM2Store) DiskBytes() (int64, error) { return workload.DirBytes(s.dir) }

// Close closes the manager.
func (s *MM2Store) Close() error { return s.m.Close() }
