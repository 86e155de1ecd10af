package mm2_test

import (
	"errors"
	"path"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/spool"
	"github.com/mm2go/mm2/vfs"
)

// Finding 2 of the disk-tier review: one damaged frame found while running
// blocked its stream's reads for good (and the uplink with it). Now the read
// skips the frame, counts its records as corrupt drops and goes on; the
// other stream is untouched.
func TestDamageFoundWhileRunningIsSkippedAndCounted(t *testing.T) {
	clk := newClock(100)
	opts := diskOpts(clk)
	mem := vfs.NewMem()
	m := mustOpen(t, opts, mem)
	a, _ := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, 100*time.Millisecond)
	b, _ := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 2}, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, a, 1500)
	writeSeqs(t, b, 1500)
	if st := m.Stats(); st.DiskFiles < 3 {
		t.Fatalf("only %d segments", st.DiskFiles)
	}
	// Flip a byte in the payload of a frame of stream a in the first segment.
	name := path.Join("store", spool.SegmentName(1))
	data, err := vfs.ReadFile(mem, name)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(spool.SegmentHeaderSize)
	damaged := uint64(0)
	for off < int64(len(data)) {
		h, _, err := spool.DecodeFrame(data[off:])
		if err != nil {
			t.Fatal(err)
		}
		if h.Sensor == 1 && h.Count > 1 {
			data[off+int64(spool.FrameHeaderSize)+1] ^= 0xff
			damaged = uint64(h.Count)
			break
		}
		off += int64(h.Size())
	}
	if damaged == 0 {
		t.Fatal("no frame of stream a in the first segment")
	}
	f, err := mem.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	gotA := drainID(t, m, a.ID(), drainHow{ack: true, check: m})
	if uint64(len(gotA))+damaged != 1500 {
		t.Fatalf("stream a: %d records read, %d damaged, want 1500 in all", len(gotA), damaged)
	}
	for i := 1; i < len(gotA); i++ {
		if gotA[i].Seq <= gotA[i-1].Seq || gotA[i].Value != uint32(gotA[i].Seq*7) {
			t.Fatalf("stream a: record %+v after %+v", gotA[i], gotA[i-1])
		}
	}
	if st := a.Stats(); st.Drops.Corrupt != damaged {
		t.Fatalf("Drops.Corrupt %d, want %d", st.Drops.Corrupt, damaged)
	}
	wantSeqs(t, drainID(t, m, b.ID(), drainHow{ack: true, check: m}), 1, 1500)
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Read(); !errors.Is(err, mm2.ErrNoData) {
		t.Fatalf("stream a after draining: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
