package peers

import (
	"testing"

	"github.com/mm2go/mm2/bench/workload"
)

func batch(stream uint16, from uint64, n int) []workload.Record {
	recs := make([]workload.Record, n)
	for i := range recs {
		seq := from + uint64(i)
		recs[i] = workload.Record{Stream: stream, Seq: seq, UTC: 1_700_000_000_000 + int64(seq)*1000, Value: workload.SampleValue(stream, seq)}
	}
	return recs
}

func readAll(t *testing.T, s workload.Store, stream uint16) []workload.Record {
	t.Helper()
	var got []workload.Record
	dst := make([]workload.Record, 10)
	for {
		n, err := s.Read(stream, dst)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n == 0 {
			return got
		}
		got = append(got, dst[:n]...)
		if _, err := s.Ack(stream); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
}

// TestAdaptersRoundTripAndRedeliverUnacked writes two batches to each of two streams, acks
// the first batch of one stream, reopens, and expects exactly the rest back in order.
func TestAdaptersRoundTripAndRedeliverUnacked(t *testing.T) {
	for _, sys := range All() {
		if sys.Unavailable != nil {
			t.Logf("%s: %v", sys.Name, sys.Unavailable)
			continue
		}
		for _, d := range []workload.Durability{workload.Synced, workload.NotSynced} {
			t.Run(sys.Name+"/"+d.String(), func(t *testing.T) {
				dir := t.TempDir()
				s, err := sys.Open(dir, d, 2, workload.PerStream)
				if err != nil {
					t.Fatal(err)
				}
				for st := uint16(0); st < 2; st++ {
					for _, b := range [][]workload.Record{batch(st, 1, 10), batch(st, 11, 10)} {
						if err := s.Append(st, b); err != nil {
							t.Fatal(err)
						}
					}
				}
				dst := make([]workload.Record, 10)
				n, err := s.Read(1, dst)
				if err != nil || n != 10 || dst[0] != batch(1, 1, 1)[0] || dst[9].Seq != 10 {
					t.Fatalf("read stream 1: n=%d err=%v first=%+v", n, err, dst[0])
				}
				if acked, err := s.Ack(1); err != nil || acked != 10 {
					t.Fatalf("ack: %d %v", acked, err)
				}
				// Read and not acked: must come back after the reopen.
				if n, err := s.Read(0, dst); err != nil || n != 10 {
					t.Fatalf("read stream 0: %d %v", n, err)
				}
				if b, err := s.DiskBytes(); err != nil || b <= 0 {
					t.Fatalf("disk bytes: %d %v", b, err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s, err = sys.Open(dir, d, 2, workload.PerStream)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				want := map[uint16][]workload.Record{0: batch(0, 1, 20), 1: batch(1, 11, 10)}
				for st, w := range want {
					got := readAll(t, s, st)
					if len(got) != len(w) {
						t.Fatalf("stream %d: got %d records, want %d", st, len(got), len(w))
					}
					for i := range w {
						if got[i] != w[i] {
							t.Fatalf("stream %d record %d: got %+v, want %+v", st, i, got[i], w[i])
						}
					}
				}
			})
		}
	}
}

// TestAdaptersOneQueueRoundTrip writes entries mixing two streams to queue 0, reads and acks
// once, reopens, and expects every record not acked back, each stream in order, none twice.
func TestAdaptersOneQueueRoundTrip(t *testing.T) {
	for _, sys := range All() {
		if sys.Unavailable != nil {
			continue
		}
		t.Run(sys.Name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := sys.Open(dir, workload.NotSynced, 2, workload.OneQueue)
			if err != nil {
				t.Fatal(err)
			}
			var entries [][]workload.Record
			for from := uint64(1); from <= 11; from += 5 {
				entries = append(entries, append(batch(0, from, 5), batch(1, from, 5)...))
			}
			for _, e := range entries {
				if err := s.Append(0, e); err != nil {
					t.Fatal(err)
				}
			}
			dst := make([]workload.Record, 10)
			n, err := s.Read(0, dst)
			if err != nil || n == 0 {
				t.Fatalf("read: %d %v", n, err)
			}
			acked := map[workload.Record]bool{}
			for _, r := range dst[:n] {
				acked[r] = true
			}
			if _, err := s.Ack(0); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = sys.Open(dir, workload.NotSynced, 2, workload.OneQueue); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := map[uint16][]workload.Record{}
			for q := range s.Queues() {
				for _, r := range readAll(t, s, uint16(q)) {
					got[r.Stream] = append(got[r.Stream], r)
				}
			}
			for st := uint16(0); st < 2; st++ {
				var want []workload.Record
				for _, r := range batch(st, 1, 15) {
					if !acked[r] {
						want = append(want, r)
					}
				}
				if len(got[st]) != len(want) {
					t.Fatalf("stream %d: got %d records, want %d", st, len(got[st]), len(want))
				}
				for i := range want {
					if got[st][i] != want[i] {
						t.Fatalf("stream %d record %d: got %+v, want %+v", st, i, got[st][i], want[i])
					}
				}
			}
		})
	}
}
