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

// mm2Store drives mm2 through its public API: the disk backend with the linux profile, one
// TSD stream per workload stream, WriteTSD per sample with an injected clock, ReadBulk into a
// reused buffer, Ack.
type mm2Store struct {
	dir     string
	m       *mm2.Manager
	now     atomic.Int64 // UTC ms the clock returns: the time of the sample being written
	streams []*mm2.Stream
	bufs    [][]mm2.Sample // per stream, reused by Read
	synced  bool           // Sync after each batch and ack
}

func mm2System() System {
	return System{
		Name:   "mm2",
		UsedBy: "this project (disk backend, linux profile)",
		Layout: "one TSD stream per sensor, WriteTSD per sample with an injected clock, ReadBulk and Ack",
		Open:   OpenMM2,
	}
}

// OpenMM2 opens mm2 in dir with SyncOnPowerDown; synced adds a Manager.Sync after every
// appended batch and every ack (the same durability as a peer's sync per entry: the batch's
// records, the RAM tier and the cursors are durable when the call returns).
func OpenMM2(dir string, d workload.Durability, streams int) (workload.Store, error) {
	return openMM2(dir, dir, d, streams)
}

// openMM2 opens mm2 with its data under dataDir ("" = the RAM-only mock backend, for tests)
// and counts the disk bytes under dir.
func openMM2(dir, dataDir string, d workload.Durability, streams int) (*mm2Store, error) {
	s := &mm2Store{dir: dir, synced: d != workload.NotSynced}
	m, err := mm2.Open(mm2.Options{
		Dir:          dataDir,
		Profile:      mm2.ProfileLinux,
		Sync:         mm2.SyncOnPowerDown(),
		DiskCapBytes: mm2DiskCap,
		Clock:        func() time.Time { return time.UnixMilli(s.now.Load()) },
	})
	if err != nil {
		return nil, err
	}
	s.m = m
	for i := range streams {
		st, err := m.Configure(mm2.StreamID{Source: mm2.Gateway, Sensor: uint32(i)}, mm2.TSD, mm2Period)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("mm2: configure stream %d: %w", i, err)
		}
		s.streams = append(s.streams, st)
	}
	s.bufs = make([][]mm2.Sample, streams)
	return s, nil
}

func (s *mm2Store) Append(stream uint16, recs []workload.Record) error {
	st := s.streams[stream]
	for _, r := range recs {
		s.now.Store(r.UTC)
		if err := st.WriteTSD(r.Value); err != nil {
			return err
		}
	}
	if s.synced {
		return s.m.Sync()
	}
	return nil
}

func (s *mm2Store) Read(stream uint16, dst []workload.Record) (int, error) {
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

func (s *mm2Store) Ack(stream uint16) (int, error) {
	n, err := s.streams[stream].Ack()
	if errors.Is(err, mm2.ErrNoData) {
		return 0, nil // nothing was pending
	}
	if err != nil {
		return n, err
	}
	if s.synced {
		return n, s.m.Sync()
	}
	return n, nil
}

func (s *mm2Store) DiskBytes() (int64, error) { return workload.DirBytes(s.dir) }

func (s *mm2Store) Close() error { return s.m.Close() }
