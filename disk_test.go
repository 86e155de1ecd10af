package mm2_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// writeSeqs writes TSD records 1..n to s, each valued seq*7 (what wantSeqs checks).
func writeSeqs(t *testing.T, s *mm2.Stream, n uint64) {
	t.Helper()
	for i := uint64(1); i <= n; i++ {
		if err := s.WriteTSD(uint32(i * 7)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

func wantSeqs(t *testing.T, got []mm2.Sample, from, to uint64) {
	t.Helper()
	if len(got) != int(to-from+1) {
		t.Fatalf("got %d records, want seq %d..%d", len(got), from, to)
	}
	for i, smp := range got {
		if smp.Seq != from+uint64(i) || smp.Value != uint32(smp.Seq*7) {
			t.Fatalf("record %d: %+v, want seq %d value %d", i, smp, from+uint64(i), (from+uint64(i))*7)
		}
	}
}

func TestSpillKeepsFIFOAcrossRAMAndDisk(t *testing.T) {
	clk := newClock(100)
	fsys := vfs.NewMem()
	m := mustOpen(t, diskOpts(clk), fsys)
	id := mm2.StreamID{Source: mm2.CAN, Sensor: 7}
	s, _ := m.Configure(id, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, s, 2000)
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	st := m.Stats()
	if st.DiskRecords == 0 || st.DiskFiles < 2 {
		t.Fatalf("nothing spilled: %+v", st)
	}
	if st.Drops.Total() != 0 {
		t.Fatalf("drops with a disk tier: %+v", st.Drops)
	}
	wantSeqs(t, drainID(t, m, id, drainHow{ack: true, check: m}), 1, 2000)
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.DiskFiles > 1 {
		t.Fatalf("acknowledged segments not retired: %d files", st.DiskFiles)
	}
}

func TestCloseAndReopenRedeliversUnackedInOrder(t *testing.T) {
	clk := newClock(100)
	fsys := vfs.NewMem()
	m := mustOpen(t, diskOpts(clk), fsys)
	id := mm2.StreamID{Source: mm2.Gateway, Sensor: 1}
	s, _ := m.Configure(id, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, s, 1000)
	buf := make([]mm2.Sample, 300)
	if _, err := s.ReadBulk(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ack(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadBulk(buf[:50]); err != nil { // pending at shutdown: redelivered
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = mustOpen(t, diskOpts(clk), fsys)
	wantSeqs(t, drainID(t, m, id, drainHow{check: m}), 301, 1000)
	s, _ = m.Stream(id)
	if _, err := s.Nack(); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteTSD(1001 * 7); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, drainID(t, m, id, drainHow{ack: true, check: m}), 301, 1001)
}

func TestPowerDownThenCrashLosesNothing(t *testing.T) {
	clk := newClock(100)
	mem := vfs.NewMem()
	m := mustOpen(t, diskOpts(clk), mem)
	id := mm2.StreamID{Source: mm2.BLE, Sensor: 3}
	s, _ := m.Configure(id, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, s, 1500)
	if err := m.PowerDown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteTSD(1); !errors.Is(err, mm2.ErrPoweringDown) {
		t.Fatalf("write during power-down: %v", err)
	}
	for _, mode := range vfs.CrashModes() {
		crashed := mem.CrashClone(mode, nil)
		m2 := mustOpen(t, diskOpts(clk), crashed)
		wantSeqs(t, drainID(t, m2, id, drainHow{check: m2}), 1, 1500)
		s2, _ := m2.Stream(id)
		if err := s2.WriteTSD(1501 * 7); err != nil {
			t.Fatal(err)
		}
		if got, _ := s2.Peek(0); got.Seq != 1501 {
			t.Fatalf("%v: numbering after a clean power-down resumed at %d, want 1501", mode, got.Seq)
		}
	}
}

func TestDiskCapDropsOldestSegmentsCounted(t *testing.T) {
	clk := newClock(100)
	opts := diskOpts(clk)
	opts.DiskCapBytes = 16 << 10
	m := mustOpen(t, opts, vfs.NewMem())
	id := mm2.StreamID{Source: mm2.CAN, Sensor: 9}
	s, _ := m.Configure(id, mm2.TSD, 100*time.Millisecond)
	const n = 20000
	writeSeqs(t, s, n)
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	st := m.Stats()
	if st.Drops.DiskCap == 0 || st.DiskBytes > opts.DiskCapBytes {
		t.Fatalf("cap not enforced: drops %+v, %d bytes", st.Drops, st.DiskBytes)
	}
	got := drainID(t, m, id, drainHow{ack: true, check: m})
	if uint64(len(got))+st.Drops.DiskCap != n {
		t.Fatalf("%d delivered + %d dropped != %d written", len(got), st.Drops.DiskCap, n)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("out of order at %d: %d after %d", i, got[i].Seq, got[i-1].Seq)
		}
	}
}

func TestOpenReadOnlyChangesNothing(t *testing.T) {
	clk := newClock(100)
	dir := t.TempDir()
	opts := diskOpts(clk)
	opts.Dir = dir
	m := openStore(t, opts, nil)
	id := mm2.StreamID{Source: mm2.Hosted, Sensor: 4}
	s, _ := m.Configure(id, mm2.TSD, 100*time.Millisecond)
	writeSeqs(t, s, 800)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	before := snapshotDir(t, dir)
	ro, err := mm2.OpenReadOnly(opts)
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, drainID(t, ro, id, drainHow{check: ro}), 1, 800)
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if after := snapshotDir(t, dir); !reflect.DeepEqual(before, after) {
		t.Fatalf("read-only open changed the store:\nbefore %v\nafter  %v", before, after)
	}
}

func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil {
			out[e.Name()] = fmt.Sprintf("%d:%x", len(b), crc32.ChecksumIEEE(b))
		}
	}
	return out
}
