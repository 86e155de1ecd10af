package peers

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/tidwall/wal"

	"github.com/mm2go/mm2/bench/workload"
)

// walStore keeps one tidwall/wal log per stream, as Telegraf keeps one per output: an entry is
// a packed batch, reading walks the index, and an ack truncates the front of the log.
type walStore struct {
	dir     string
	codec   workload.Codec
	streams []*walStream
}

type walStream struct {
	mu       sync.Mutex
	log      *wal.Log
	readNext uint64 // next index to read
	pending  int    // records read and not acked
	buf      []byte
}

// OpenWAL opens the wal adapter: one log per queue of the layout.
func OpenWAL(dir string, d workload.Durability, streams int, layout workload.Layout) (workload.Store, error) {
	s := &walStore{dir: dir, codec: workload.CodecFor(layout)}
	streams = s.codec.Queues(streams)
	opts := *wal.DefaultOptions
	opts.NoSync = d == workload.NotSynced
	opts.AllowEmpty = true // an ack may erase everything, as Telegraf's buffer does
	for i := range streams {
		l, err := wal.Open(filepath.Join(dir, fmt.Sprintf("s%03d", i)), &opts)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("wal: open stream %d: %w", i, err)
		}
		first, err := l.FirstIndex()
		if err != nil {
			l.Close()
			s.Close()
			return nil, fmt.Errorf("wal: stream %d: %w", i, err)
		}
		s.streams = append(s.streams, &walStream{log: l, readNext: first})
	}
	return s, nil
}

func (s *walStore) Append(stream uint16, recs []workload.Record) error {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	last, err := st.log.LastIndex()
	if err != nil {
		return err
	}
	st.buf = s.codec.Pack(st.buf[:0], recs)
	return st.log.Write(last+1, st.buf)
}

func (s *walStore) Read(stream uint16, dst []workload.Record) (int, error) {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	last, err := st.log.LastIndex()
	if err != nil {
		return 0, err
	}
	n := 0
	for st.readNext <= last {
		data, err := st.log.Read(st.readNext)
		if err != nil {
			return n, err
		}
		if n+s.codec.Count(data) > len(dst) {
			break
		}
		k, err := s.codec.Unpack(dst[n:], stream, data)
		if err != nil {
			return n, err
		}
		n += k
		st.readNext++
	}
	st.pending += n
	return n, nil
}

func (s *walStore) Ack(stream uint16) (int, error) {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending == 0 {
		return 0, nil
	}
	if err := st.log.TruncateFront(st.readNext); err != nil {
		return 0, err
	}
	n := st.pending
	st.pending = 0
	return n, nil
}

func (s *walStore) Queues() int { return len(s.streams) }

func (s *walStore) DiskBytes() (int64, error) { return workload.DirBytes(s.dir) }

func (s *walStore) Close() error {
	var errs []error
	for _, st := range s.streams {
		if err := st.log.Close(); err != nil && !errors.Is(err, wal.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.streams = nil
	return errors.Join(errs...)
}
