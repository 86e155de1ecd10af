package peers

import (
	"encoding/binary"
	"fmt"
	"log"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/mm2go/mm2/bench/workload"
)

// pebbleStore keeps each batch under the key (stream, index), both big-endian so that a
// stream's entries are contiguous and in order. A read iterates from the read cursor; an ack
// deletes the entries read.
type pebbleStore struct {
	dir     string
	codec   workload.Codec
	db      *pebble.DB
	wo      *pebble.WriteOptions
	streams []*pebbleStream
}

type pebbleStream struct {
	mu       sync.Mutex
	id       uint16
	first    uint64 // first unacked entry
	readNext uint64 // next entry to read
	next     uint64 // next entry to write
	pending  int
	buf      []byte
	key      [10]byte
	lo, hi   [10]byte
}

// pebbleQuiet drops pebble's informational log lines; fatal ones still stop the process.
type pebbleQuiet struct{}

func (pebbleQuiet) Infof(string, ...interface{}) {}
func (pebbleQuiet) Fatalf(format string, args ...interface{}) {
	log.Fatalf(format, args...)
}

func pebbleKey(dst *[10]byte, stream uint16, i uint64) []byte {
	binary.BigEndian.PutUint16(dst[:2], stream)
	binary.BigEndian.PutUint64(dst[2:], i)
	return dst[:]
}

// OpenPebble opens the pebble adapter with default options, keys prefixed by the queue of
// the layout; synced writes use pebble.Sync.
func OpenPebble(dir string, d workload.Durability, streams int, layout workload.Layout) (workload.Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleQuiet{}})
	if err != nil {
		return nil, fmt.Errorf("pebble: %w", err)
	}
	s := &pebbleStore{dir: dir, codec: workload.CodecFor(layout), db: db, wo: pebble.Sync}
	streams = s.codec.Queues(streams)
	if d == workload.NotSynced {
		s.wo = pebble.NoSync
	}
	it, err := db.NewIter(nil)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("pebble: %w", err)
	}
	for i := range streams {
		st := &pebbleStream{id: uint16(i)}
		// The stream's first and last keys give the acked and written positions.
		if it.SeekGE(pebbleKey(&st.lo, st.id, 0)) && binary.BigEndian.Uint16(it.Key()) == st.id {
			st.first = binary.BigEndian.Uint64(it.Key()[2:])
			if it.SeekLT(pebbleKey(&st.hi, st.id+1, 0)) {
				st.next = binary.BigEndian.Uint64(it.Key()[2:]) + 1
			}
		}
		st.readNext = st.first
		s.streams = append(s.streams, st)
	}
	if err := it.Close(); err != nil {
		db.Close()
		return nil, fmt.Errorf("pebble: %w", err)
	}
	return s, nil
}

func (s *pebbleStore) Append(stream uint16, recs []workload.Record) error {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	st.buf = s.codec.Pack(st.buf[:0], recs)
	if err := s.db.Set(pebbleKey(&st.key, stream, st.next), st.buf, s.wo); err != nil {
		return err
	}
	st.next++
	return nil
}

func (s *pebbleStore) Read(stream uint16, dst []workload.Record) (int, error) {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.readNext >= st.next {
		return 0, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: pebbleKey(&st.lo, stream, st.readNext),
		UpperBound: pebbleKey(&st.hi, stream, st.next),
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		data := it.Value()
		if n+s.codec.Count(data) > len(dst) {
			break
		}
		k, err := s.codec.Unpack(dst[n:], stream, data)
		if err != nil {
			it.Close()
			return 0, err
		}
		n += k
		st.readNext = binary.BigEndian.Uint64(it.Key()[2:]) + 1
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	st.pending += n
	return n, nil
}

func (s *pebbleStore) Ack(stream uint16) (int, error) {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending == 0 {
		return 0, nil
	}
	// Point deletes, one per entry, in one batch: a range tombstone per ack would make every
	// later iterator wade through all the tombstones still in the memtable.
	b := s.db.NewBatch()
	for i := st.first; i < st.readNext; i++ {
		if err := b.Delete(pebbleKey(&st.key, stream, i), nil); err != nil {
			b.Close()
			return 0, err
		}
	}
	if err := b.Commit(s.wo); err != nil {
		b.Close()
		return 0, err
	}
	if err := b.Close(); err != nil {
		return 0, err
	}
	st.first = st.readNext
	n := st.pending
	st.pending = 0
	return n, nil
}

func (s *pebbleStore) Queues() int { return len(s.streams) }

func (s *pebbleStore) DiskBytes() (int64, error) { return workload.DirBytes(s.dir) }

func (s *pebbleStore) Close() error { return s.db.Close() }
