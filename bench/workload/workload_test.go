package workload

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is a Store in RAM, for testing the workloads themselves. It keeps queues queues;
// with route set it keeps each record in its stream's queue whatever queue Append names
// (as mm2 does), else in the queue named (as a peer does).
type memStore struct {
	mu    sync.Mutex
	q     [][]Record
	read  []int
	route bool
}

func newMemStore(queues int) *memStore {
	return &memStore{q: make([][]Record, queues), read: make([]int, queues)}
}

func (m *memStore) Append(queue uint16, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		q := queue
		if m.route {
			q = r.Stream
		}
		m.q[q] = append(m.q[q], r)
	}
	return nil
}

func (m *memStore) Read(st uint16, dst []Record) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := copy(dst, m.q[st][m.read[st]:])
	m.read[st] += n
	return n, nil
}

func (m *memStore) Ack(st uint16) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.read[st]
	m.q[st] = m.q[st][n:]
	m.read[st] = 0
	return n, nil
}

func (m *memStore) Queues() int { return len(m.q) }

func (m *memStore) DiskBytes() (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, q := range m.q {
		n += int64(len(q) * PackedSize)
	}
	return n, nil
}

func (m *memStore) Close() error { return nil }

func tinyConfig() Config {
	c := Quick()
	c.Streams = 3
	c.Batch = 5
	c.ReadBatch = 5
	c.SamplesPerStream = 20
	c.OutageBytes = 1000
	c.ConcurrentFor = 50 * time.Millisecond
	return c
}

func TestPackUnpackRoundTrip(t *testing.T) {
	recs := []Record{{Stream: 7, Seq: 1, UTC: 1_700_000_000_000, Value: 42}, {Stream: 7, Seq: maxPacked48, UTC: 5, Value: 1 << 31}}
	b := Pack(nil, recs)
	if len(b) != 2*PackedSize {
		t.Fatalf("packed %d bytes", len(b))
	}
	got := make([]Record, 2)
	if n, err := Unpack(got, 7, b); err != nil || n != 2 || got[0] != recs[0] || got[1] != recs[1] {
		t.Fatalf("unpack: %d %v %+v", n, err, got)
	}
	if _, err := Unpack(got, 7, b[:5]); err == nil {
		t.Fatal("unpack of a torn record succeeded")
	}
}

func TestWorkloadsWriteAndDrainEverything(t *testing.T) {
	cfg := tinyConfig()
	for _, w := range []string{Bulk, Outage, Concurrent} {
		var res Result
		if err := Run(w, newMemStore(cfg.Streams), cfg, &res); err != nil {
			t.Fatalf("workload %s: %v", w, err)
		}
		if res.Written == 0 || (w != Concurrent && res.Drained != res.Written) {
			t.Fatalf("workload %s: written %d drained %d", w, res.Written, res.Drained)
		}
	}
}

func TestDrainDetectsALostRecord(t *testing.T) {
	cfg := tinyConfig()
	s := newMemStore(cfg.Streams)
	gen := newGenerator(cfg)
	if err := s.Append(0, gen.batch(0)); err != nil {
		t.Fatal(err)
	}
	b := gen.batch(0)
	if err := s.Append(0, b[1:]); err != nil { // seq 6 missing
		t.Fatal(err)
	}
	var res Result
	if err := drain(s, cfg, newChecker(cfg), &res); err == nil || !strings.Contains(err.Error(), "want seq 6") {
		t.Fatalf("drain: %v", err)
	}
}

func TestVerifyAfterCrashCountsLostAndDuplicated(t *testing.T) {
	cfg := tinyConfig()
	s := newMemStore(cfg.Streams)
	gen := newGenerator(cfg)
	for range 3 {
		if err := s.Append(0, gen.batch(0)); err != nil { // seqs 1..15
			t.Fatal(err)
		}
	}
	log := NewCrashLog(cfg.Streams)
	for _, l := range []string{"ready", "w 0 15", "w 0 20", "a 0 5", "A 0 5", "a 0 8", "w 1 5", "junk"} {
		log.Add(l)
	}
	// The store still holds 1..15: 1..5 were acked (duplicates), 16..20 reported but missing,
	// 6..8 in the ack window (neither), stream 1's 1..5 missing.
	open := func(string, Durability, int, Layout) (Store, error) { return s, nil }
	res, err := VerifyAfterCrash(open, "", Synced, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicated != 5 || res.Lost != 10 || res.Recovered != 15 || res.Reported != 25 || res.Corrupt != 0 {
		t.Fatalf("got %+v", res)
	}
}

func TestMixedWorkloadDrainsOneQueueAndPerStreamStores(t *testing.T) {
	cfg := tinyConfig()
	routed := newMemStore(cfg.Streams)
	routed.route = true
	for name, s := range map[string]*memStore{"one queue": newMemStore(1), "per stream": routed} {
		var res Result
		if err := Run(Mixed, s, cfg, &res); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := int64(cfg.Streams * cfg.SamplesPerStream)
		if res.Written != want || res.Drained != want {
			t.Fatalf("%s: written %d drained %d, want %d", name, res.Written, res.Drained, want)
		}
	}
}

func TestMixedEntriesTakeConsecutiveStreams(t *testing.T) {
	cfg := tinyConfig() // 3 streams, entries of 5
	gen := newGenerator(cfg)
	gen.mixedBatch()
	second := gen.mixedBatch()
	want := []struct {
		stream uint16
		seq    uint64
	}{{2, 2}, {0, 3}, {1, 3}, {2, 3}, {0, 4}}
	for i, w := range want {
		if second[i].Stream != w.stream || second[i].Seq != w.seq {
			t.Fatalf("record %d of the second entry: stream %d seq %d, want stream %d seq %d",
				i, second[i].Stream, second[i].Seq, w.stream, w.seq)
		}
	}
}

func TestDrainRejectsAForeignStreamInAPerStreamQueue(t *testing.T) {
	cfg := tinyConfig()
	s := newMemStore(cfg.Streams)
	gen := newGenerator(cfg)
	if err := s.Append(0, gen.batch(1)); err != nil { // stream 1's records in queue 0
		t.Fatal(err)
	}
	var res Result
	if err := drain(s, cfg, newChecker(cfg), &res); err == nil || !strings.Contains(err.Error(), "a stream it does not hold") {
		t.Fatalf("drain: %v", err)
	}
}

func TestOneQueueCodecKeepsTheStream(t *testing.T) {
	c := CodecFor(OneQueue)
	recs := []Record{{Stream: 3, Seq: 9, UTC: 1_700_000_000_000, Value: 1}, {Stream: 65535, Seq: 1, UTC: 0, Value: 7}}
	b := c.Pack(nil, recs)
	if len(b) != 2*MixedPackedSize || c.Count(b) != 2 || c.Queues(500) != 1 {
		t.Fatalf("packed %d bytes, count %d, queues %d", len(b), c.Count(b), c.Queues(500))
	}
	got := make([]Record, 2)
	if n, err := c.Unpack(got, 0, b); err != nil || n != 2 || got[0] != recs[0] || got[1] != recs[1] {
		t.Fatalf("unpack: %d %v %+v", n, err, got)
	}
	if _, err := c.Unpack(got, 0, b[:MixedPackedSize+1]); err == nil {
		t.Fatal("unpack of a torn record succeeded")
	}
	if per := CodecFor(PerStream); per.Size() != PackedSize || per.Queues(500) != 500 {
		t.Fatalf("per-stream codec: size %d queues %d", per.Size(), per.Queues(500))
	}
}

func TestParseDeviceIO(t *testing.T) {
	text := "rchar: 6976\nwchar: 10\nsyscr: 10\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 512\n"
	io, err := parseDeviceIO(text)
	if err != nil || io != (DeviceIO{WriteBytes: 8192, CancelledWriteBytes: 512, ReadBytes: 4096}) {
		t.Fatalf("got %+v %v", io, err)
	}
	if _, err := parseDeviceIO("rchar: 1\n"); err == nil {
		t.Fatal("counters without write_bytes accepted")
	}
	if _, err := parseDeviceIO("write_bytes: x\n"); err == nil {
		t.Fatal("a counter that is not a number accepted")
	}
}
