package mm2

import (
	"testing"
	"time"

	"github.com/mm2go/mm2/internal/spool"
	"github.com/mm2go/mm2/vfs"
)

// A snapshot is encoded from its copies, not from the live pool and
// frames: records written, acknowledged or rewritten between the snapshot
// and its encoding do not show in the checkpoint.
func TestSnapshotEncodesItsCopiesNotTheLivePool(t *testing.T) {
	now := int64(1_700_000_000_000)
	p := ProfileLinux
	p.PoolBytes = 1 << 10
	m, err := OpenFS(Options{Profile: p, Dir: "store", SegmentBytes: 4 << 10, DiskCapBytes: 1 << 20,
		Clock: func() time.Time { return time.UnixMilli(now) }}, vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ram, err := m.Configure(StreamID{Source: CAN, Sensor: 1}, TSD, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	write := func(s *Stream, n int, base uint32) {
		for i := range n {
			now += 100
			if err := s.WriteTSD(base + uint32(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(ram, 20, 0) // in RAM
	spill, err := m.Configure(StreamID{Source: CAN, Sensor: 2}, TSD, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	write(spill, 300, 1000) // fills the pool: its newest records wait in a frame being filled

	m.mu.Lock()
	c := m.disk.snapshot(false)
	m.mu.Unlock()
	// Between the snapshot and its encoding: the RAM records acknowledged
	// (their sectors freed and reused), more written everywhere.
	buf := make([]Sample, 20)
	if _, err := ram.ReadBulk(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := ram.Ack(); err != nil {
		t.Fatal(err)
	}
	write(ram, 20, 500)
	write(spill, 30, 5000)

	m.mu.Lock()
	b := m.disk.encodeSnapshot(nil, &c)
	m.mu.Unlock()
	got, err := spool.DecodeCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	values := map[uint32][]uint32{}
	for _, frames := range [][]byte{got.Frames, got.Stages} {
		for off := 0; off < len(frames); {
			h, payload, err := spool.DecodeFrame(frames[off:])
			if err != nil {
				t.Fatal(err)
			}
			off += h.Size()
			recs, err := spool.FrameRecords(h, payload, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				values[h.Sensor] = append(values[h.Sensor], r.Value)
			}
		}
	}
	if v := values[1]; len(v) != 20 || v[0] != 0 || v[19] != 19 {
		t.Fatalf("RAM stream in the checkpoint: %v, want the 20 records of the snapshot's instant", v)
	}
	v := values[2]
	if len(v) == 0 || v[len(v)-1] != 1299 {
		t.Fatalf("spilled stream in the checkpoint ends with %v, want the record written last before the snapshot (1299)", v[max(0, len(v)-3):])
	}
}
