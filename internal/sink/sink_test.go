package sink

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/testbroker"
	"github.com/mm2go/mm2/uplink"
)

func TestSeqsDropsDuplicatesAndCountsGaps(t *testing.T) {
	var q seqs
	for _, s := range []uint64{5, 6, 6, 7, 10, 9, 10, 4} {
		q.add(s)
	}
	if q.unique != 5 || q.first != 5 || q.max != 10 || q.missing() != 1 { // 8 is missing; 4 is before the start
		t.Errorf("unique %d first %d max %d missing %d", q.unique, q.first, q.max, q.missing())
	}
	q.add(8)
	if q.missing() != 0 || q.floor != 10 || len(q.ahead) != 0 {
		t.Errorf("after 8: floor %d ahead %v missing %d", q.floor, q.ahead, q.missing())
	}
	q.add(20)
	q.add(21)
	jump := JumpAtLeast + 21 + 5
	if !q.add(uint64(jump)) || !q.add(uint64(jump+1)) || q.jumps != 1 || q.jumped != uint64(jump-22) || q.missing() != 9 || len(q.ahead) != 0 {
		t.Fatalf("jump: jumps %d jumped %d missing %d ahead %d", q.jumps, q.jumped, q.missing(), len(q.ahead))
	}
	q = seqs{}
	q.add(5)
	q.add(10)
	q.add(20)
	q.add(21)
	q.giveUp() // as when MaxAhead is exceeded: 6..9 are given up
	if q.floor != 10 || q.lost != 4 || q.missing() != 13 || q.add(7) {
		t.Errorf("after giving up: floor %d lost %d missing %d", q.floor, q.lost, q.missing())
	}
}

func payload(t *testing.T, src mm2.Source, id uint64, runs ...uplink.Run) []byte {
	t.Helper()
	p, err := uplink.Encode(nil, &uplink.Batch{Source: src, ID: id, Runs: runs})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func samples(first uint64, n int) []mm2.Sample {
	out := make([]mm2.Sample, n)
	for i := range out {
		seq := first + uint64(i)
		out[i] = mm2.Sample{Value: uint32(seq * 10), UTCms: 1700000000000 + int64(seq), Seq: seq}
	}
	return out
}

func TestHandleWritesEachRecordOnce(t *testing.T) {
	var out bytes.Buffer
	s := New(Options{Out: &out})
	s.Handle("mm2/gw1/can", payload(t, mm2.CAN, 1, uplink.Run{Sensor: 3, Kind: mm2.EVT, Samples: samples(1, 3)}))
	s.Handle("mm2/gw1/can", payload(t, mm2.CAN, 2, uplink.Run{Sensor: 3, Kind: mm2.EVT, Samples: samples(2, 4)})) // 2, 3 again
	s.Handle("mm2/gw1/status", []byte("online"))
	s.Handle("mm2/gw1/can", []byte("M2 not a payload"))
	s.Handle("mm2/gw2/can", payload(t, mm2.CAN, 1, uplink.Run{Sensor: 3, Kind: mm2.TSD, Samples: samples(7, 1)}))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	if lines[0] != `{"stream":"gw1/can/3","seq":1,"time":"2023-11-14T22:13:20.001Z","value":10,"kind":"evt"}` {
		t.Errorf("line 1: %s", lines[0])
	}
	r, err := ParseRecord([]byte(lines[5]))
	if err != nil || r.Stream != "gw2/can/3" || r.Seq != 7 || r.Value != 70 || r.Kind != "tsd" {
		t.Errorf("last line %s: %+v %v", lines[5], r, err)
	}
	if s.duplicates.Load() != 2 || s.badPayloads.Load() != 1 || s.statusMsgs.Load() != 1 || s.records.Load() != 6 {
		t.Errorf("dups %d bad %d status %d records %d", s.duplicates.Load(), s.badPayloads.Load(), s.statusMsgs.Load(), s.records.Load())
	}
	want := `
# HELP mm2_sink_duplicate_records_total Records dropped as duplicates of a (stream, seq) already written.
# TYPE mm2_sink_duplicate_records_total counter
mm2_sink_duplicate_records_total 2
# HELP mm2_sink_records_total Records written (duplicates dropped).
# TYPE mm2_sink_records_total counter
mm2_sink_records_total 6
# HELP mm2_sink_bad_payloads_total Messages that did not decode; nothing of them was written.
# TYPE mm2_sink_bad_payloads_total counter
mm2_sink_bad_payloads_total 1
# HELP mm2_sink_streams Streams seen.
# TYPE mm2_sink_streams gauge
mm2_sink_streams 2
`
	if err := testutil.CollectAndCompare(s, strings.NewReader(want), "mm2_sink_duplicate_records_total",
		"mm2_sink_records_total", "mm2_sink_bad_payloads_total", "mm2_sink_streams"); err != nil {
		t.Error(err)
	}
	rep := s.Report()
	if len(rep) != 2 || rep[0] != (StreamReport{Stream: "gw1/can/3", Records: 5, First: 1, Max: 5}) {
		t.Errorf("report %+v", rep)
	}
}

// lockedBuffer is an io.Writer safe for the MQTT client's goroutine and
// the test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimSpace(l.b.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Two sinks in one shared-subscription group on Mosquitto split a
// gateway's batches between them; together they write every record, and
// after dropping duplicates across both, each exactly once.
func TestTwoSinksShareAFleet(t *testing.T) {
	b := testbroker.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	var outs [2]lockedBuffer
	var sinks [2]*Sink
	var wg sync.WaitGroup
	for i := range sinks {
		sinks[i] = New(Options{Broker: b.URL(), ClientID: fmt.Sprintf("sink-%d", i), Share: "cloud", Out: &outs[i]})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sinks[i].Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	waitFor(t, "both sinks subscribed", func() bool { return sinks[0].Subscribed() && sinks[1].Subscribed() })

	m, err := mm2.Open(mm2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const perStream = 300
	var streams []*mm2.Stream
	for i := range 4 {
		h, err := m.Configure(mm2.StreamID{Source: mm2.Source(i % 2 * 3), Sensor: uint32(i)}, mm2.EVT, 0)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, h)
	}
	mq, err := uplink.NewMQTT(uplink.MQTTConfig{Broker: b.URL(), Device: "truck-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer mq.Close()
	up, err := uplink.New(m, mq, uplink.Config{MaxRecords: 25, MinBackoff: 10 * time.Millisecond, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for j := range perStream {
		for _, h := range streams {
			if err := h.WriteEVT(uint32(j), int64(j)); err != nil {
				t.Fatal(err)
			}
		}
	}
	upCtx, upCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer upCancel()
	if err := mq.WaitConnected(upCtx); err != nil {
		t.Fatal(err)
	}
	if err := up.Drain(upCtx); err != nil {
		t.Fatal(err)
	}
	want := 4 * perStream
	seen := map[string]bool{}
	waitFor(t, "every record at one of the sinks", func() bool {
		clear(seen)
		for i := range outs {
			for _, l := range outs[i].lines() {
				r, err := ParseRecord([]byte(l))
				if err != nil {
					t.Fatalf("sink %d wrote %q: %v", i, l, err)
				}
				seen[fmt.Sprintf("%s#%d", r.Stream, r.Seq)] = true
			}
		}
		return len(seen) == want
	})
	for i := range outs {
		if len(outs[i].lines()) == 0 {
			t.Errorf("sink %d got no share of the batches", i)
		}
	}
	for _, h := range streams {
		for seq := 1; seq <= perStream; seq++ {
			id := h.ID()
			if k := fmt.Sprintf("truck-1/%s/%d#%d", id.Source, id.Sensor, seq); !seen[k] {
				t.Fatalf("%s missing", k)
			}
		}
	}
	t.Logf("sink 0: %d records, sink 1: %d records", len(outs[0].lines()), len(outs[1].lines()))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
