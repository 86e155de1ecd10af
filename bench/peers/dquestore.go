package peers

import (
	"errors"
	"fmt"
	"sync"

	"github.com/joncrlsn/dque"

	"github.com/mm2go/mm2/bench/workload"
)

// dqueItemsPerSegment is how many items a dque segment file holds. dque keeps the first and
// last segment of each queue in memory, so this times the item size times two is its RAM per
// queue; 50 batches of 100 samples is about 160 KB per stream.
const dqueItemsPerSegment = 50

// dqueStore keeps one dque queue per stream. dque has no separate acknowledgement: an item is
// read with Peek and acknowledged with Dequeue, so one entry is pending at a time.
type dqueStore struct {
	dir     string
	codec   workload.Codec
	streams []*dqueStream
}

type dqueStream struct {
	mu      sync.Mutex
	q       *dque.DQue
	pending int // records of the peeked item
}

// dqueItem is what dque stores (gob-encoded) per batch.
type dqueItem struct {
	Data []byte
}

func newDQueItem() interface{} { return &dqueItem{} }

// OpenDQue opens the dque adapter: one queue per queue of the layout. Not synced is dque's
// turbo mode.
func OpenDQue(dir string, d workload.Durability, streams int, layout workload.Layout) (workload.Store, error) {
	s := &dqueStore{dir: dir, codec: workload.CodecFor(layout)}
	streams = s.codec.Queues(streams)
	for i := range streams {
		q, err := dque.NewOrOpen(fmt.Sprintf("s%03d", i), dir, dqueItemsPerSegment, newDQueItem)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("dque: open stream %d: %w", i, err)
		}
		if d == workload.NotSynced {
			if err := q.TurboOn(); err != nil {
				q.Close()
				s.Close()
				return nil, fmt.Errorf("dque: stream %d: %w", i, err)
			}
		}
		s.streams = append(s.streams, &dqueStream{q: q})
	}
	return s, nil
}

func (s *dqueStore) Append(stream uint16, recs []workload.Record) error {
	// dque keeps the item it is given in its in-memory segment: a fresh slice per entry.
	item := &dqueItem{Data: s.codec.Pack(make([]byte, 0, len(recs)*s.codec.Size()), recs)}
	return s.streams[stream].q.Enqueue(item)
}

func (s *dqueStore) Read(stream uint16, dst []workload.Record) (int, error) {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending > 0 {
		return 0, nil
	}
	v, err := st.q.Peek()
	if errors.Is(err, dque.ErrEmpty) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	item, ok := v.(*dqueItem)
	if !ok {
		return 0, fmt.Errorf("dque: stream %d: unexpected item %T", stream, v)
	}
	if s.codec.Count(item.Data) > len(dst) {
		return 0, fmt.Errorf("dque: queue %d: entry of %d records does not fit %d", stream, s.codec.Count(item.Data), len(dst))
	}
	n, err := s.codec.Unpack(dst, stream, item.Data)
	if err != nil {
		return 0, err
	}
	st.pending = n
	return n, nil
}

func (s *dqueStore) Ack(stream uint16) (int, error) {
	st := s.streams[stream]
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending == 0 {
		return 0, nil
	}
	if _, err := st.q.Dequeue(); err != nil {
		return 0, err
	}
	n := st.pending
	st.pending = 0
	return n, nil
}

func (s *dqueStore) Queues() int { return len(s.streams) }

func (s *dqueStore) DiskBytes() (int64, error) { return workload.DirBytes(s.dir) }

func (s *dqueStore) Close() error {
	var errs []error
	for _, st := range s.streams {
		if err := st.q.Close(); err != nil && !errors.Is(err, dque.ErrQueueClosed) {
			errs = append(errs, err)
		}
	}
	s.streams = nil
	return errors.Join(errs...)
}
