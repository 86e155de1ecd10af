package peers

import (
	"testing"

	"github.com/mm2go/mm2/bench/workload"
)

// TestMM2AdapterMapsRecordsExactly runs the adapter on mm2's RAM-only backend: what comes
// back must be the workload's records, sequence, time and value, so the checker accepts it.
func TestMM2AdapterMapsRecordsExactly(t *testing.T) {
	s, err := openMM2(t.TempDir(), "", MM2Config{Streams: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for st := uint16(0); st < 2; st++ {
		for _, b := range [][]workload.Record{batch(st, 1, 10), batch(st, 11, 10)} {
			if err := s.Append(st, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	for st := uint16(0); st < 2; st++ {
		got := readAll(t, s, st)
		want := batch(st, 1, 20)
		if len(got) != len(want) {
			t.Fatalf("stream %d: %d records, want %d", st, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("stream %d record %d: got %+v, want %+v", st, i, got[i], want[i])
			}
		}
	}
}
