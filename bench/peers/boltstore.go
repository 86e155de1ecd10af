package peers

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/mm2go/mm2/bench/workload"
)

// boltStore follows the OpenTelemetry collector's persistent queue on its bbolt file storage:
// each item under its own key (the index in decimal), and the read index "ri", write index
// "wi" and dispatched items "di" kept as keys beside them. Append, Read and Ack are each one
// read-write transaction, as the queue's storage batches are. Dispatched items are put back
// at the front on reopen. One bucket per stream (the collector would open one storage client
// per queue: a bbolt file each, which costs more).
type boltStore struct {
	path    string
	codec   workload.Codec
	db      *bolt.DB
	streams []*boltStream
}

type boltStream struct {
	mu       sync.Mutex
	bucket   []byte
	ri, wi   uint64 // next item to read, next item to write
	diStart  uint64 // first dispatched (read, not acked) item; di = [diStart, ri)
	pending  int
	buf      []byte
	keyBuf   []byte
	indexBuf [8]byte
}

var (
	boltKeyRead       = []byte("ri")
	boltKeyWrite      = []byte("wi")
	boltKeyDispatched = []byte("di")
)

// OpenBolt opens the bbolt adapter: one bucket per queue of the layout.
func OpenBolt(dir string, d workload.Durability, streams int, layout workload.Layout) (workload.Store, error) {
	path := filepath.Join(dir, "queue.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		NoSync:         d == workload.NotSynced,
		NoFreelistSync: true, // as the collector's file storage configures it
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("bbolt: %w", err)
	}
	s := &boltStore{path: dir, codec: workload.CodecFor(layout), db: db}
	streams = s.codec.Queues(streams)
	err = db.Update(func(tx *bolt.Tx) error {
		for i := range streams {
			st := &boltStream{bucket: []byte(fmt.Sprintf("s%03d", i))}
			b, err := tx.CreateBucketIfNotExists(st.bucket)
			if err != nil {
				return err
			}
			st.ri = boltIndex(b.Get(boltKeyRead))
			st.wi = boltIndex(b.Get(boltKeyWrite))
			if di := b.Get(boltKeyDispatched); len(di) == 16 {
				// Items dispatched before a crash or close are delivered again, first.
				start, end := binary.LittleEndian.Uint64(di), binary.LittleEndian.Uint64(di[8:])
				if end > start {
					st.ri = start
				}
			}
			st.diStart = st.ri
			if err := b.Put(boltKeyRead, boltIndexBytes(st.ri)); err != nil {
				return err
			}
			if err := b.Delete(boltKeyDispatched); err != nil {
				return err
			}
			s.streams = append(s.streams, st)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bbolt: %w", err)
	}
	return s, nil
}

func boltIndex(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func boltIndexBytes(i uint64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, i)
	return b
}

func (st *boltStream) itemKey(i uint64) []byte {
	st.keyBuf = strconv.AppendUint(st.keyBuf[:0], i, 10)
	return st.keyBuf
}

func (s *boltStore) Append(stream uint16, recs []workload.Record) error {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	st.buf = s.codec.Pack(st.buf[:0], recs)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(st.bucket)
		if err := b.Put(st.itemKey(st.wi), st.buf); err != nil {
			return err
		}
		binary.LittleEndian.PutUint64(st.indexBuf[:], st.wi+1)
		return b.Put(boltKeyWrite, st.indexBuf[:])
	})
	if err != nil {
		return err
	}
	st.wi++
	return nil
}

func (s *boltStore) Read(stream uint16, dst []workload.Record) (int, error) {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ri >= st.wi {
		return 0, nil
	}
	n := 0
	ri := st.ri
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(st.bucket)
		for ; ri < st.wi; ri++ {
			data := b.Get(st.itemKey(ri))
			if data == nil {
				return fmt.Errorf("stream %d: item %d missing", stream, ri)
			}
			if n+s.codec.Count(data) > len(dst) {
				break
			}
			k, err := s.codec.Unpack(dst[n:], stream, data)
			if err != nil {
				return err
			}
			n += k
		}
		if err := b.Put(boltKeyRead, boltIndexBytes(ri)); err != nil {
			return err
		}
		di := make([]byte, 16)
		binary.LittleEndian.PutUint64(di, st.diStart)
		binary.LittleEndian.PutUint64(di[8:], ri)
		return b.Put(boltKeyDispatched, di)
	})
	if err != nil {
		return 0, err
	}
	st.ri = ri
	st.pending += n
	return n, nil
}

func (s *boltStore) Ack(stream uint16) (int, error) {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending == 0 {
		return 0, nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(st.bucket)
		for i := st.diStart; i < st.ri; i++ {
			if err := b.Delete(st.itemKey(i)); err != nil {
				return err
			}
		}
		return b.Delete(boltKeyDispatched)
	})
	if err != nil {
		return 0, err
	}
	st.diStart = st.ri
	n := st.pending
	st.pending = 0
	return n, nil
}

func (s *boltStore) Queues() int { return len(s.streams) }

func (s *boltStore) DiskBytes() (int64, error) { return workload.DirBytes(s.path) }

func (s *boltStore) Close() error { return s.db.Close() }
