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

// diskOpts is a small linux store so tests spill and rotate quickly.
func diskOpts(now *int64) mm2.Options {
	p := mm2.ProfileLinux
	p.PoolBytes = 1 << 10 // 32 sectors
	return mm2.Options{Profile: p, Dir: "store", SegmentBytes: 4 << 10, DiskCapBytes: 64 << 10,
		Clock: func() time.Time { *now += 100; return time.UnixMilli(*now) }}
}

func mustOpen(t *testing.T, opts mm2.Options, fsys vfs.FS) *mm2.Manager {
	t.Helper()
	m, err := mm2.OpenFS(opts, fsys)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := m.Check(); err != nil {
		t.Fatalf("Check after Open: %v", err)
	}
	return m
}

func drainStream(t *testing.T, m *mm2.Manager, id mm2.StreamID, ack bool) []mm2.Sample {
	t.Helper()
	s, err := m.Stream(id)
	if err != nil {
		t.Fatal(err)
	}
	var all []mm2.Sample
	buf := make([]mm2.Sample, 37)
	for {
		n, err := s.ReadBulk(buf)
		if errors.Is(err, mm2.ErrNoData) {
			break
		}
		if err != nil {
			t.Fatalf("ReadBulk: %v", err)
		}
		all = append(all, buf[:n]...)
		if err := m.Check(); err != nil {
			t.Fatalf("Check while draining: %v", err)
		}
	}
	if ack && len(all) > 0 {
		if _, err := s.Ack(); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	return all
}

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
	now := int64(1_700_000_000_000)
	fsys := vfs.NewMem()
	m := mustOpen(t, diskOpts(&now), fsys)
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
	wantSeqs(t, drainStream(t, m, id, true), 1, 2000)
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.DiskFiles > 1 {
		t.Fatalf("acknowledged segments not retired: %d files", st.DiskFiles)
	}
}

func TestCloseAndReopenRedeliversUnackedInOrder(t *testing.T) {
	now := int64(1_700_000_000_000)
	fsys := vfs.NewMem()
	m := mustOpen(t, diskOpts(&now), fsys)
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
	m = mustOpen(t, diskOpts(&now), fsys)
	wantSeqs(t, drainStream(t, m, id, false), 301, 1000)
	s, _ = m.Stream(id)
	if _, err := s.Nack(); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteTSD(1001 * 7); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, drainStream(t, m, id, true), 301, 1001)
}

func TestPowerDownThenCrashLosesNothing(t *testing.T) {
	now := int64(1_700_000_000_000)
	mem := vfs.NewMem()
	m := mustOpen(t, diskOpts(&now), mem)
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
		m2 := mustOpen(t, diskOpts(&now), crashed)
		wantSeqs(t, drainStream(t, m2, id, false), 1, 1500)
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
	now := int64(1_700_000_000_000)
	opts := diskOpts(&now)
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
	got := drainStream(t, m, id, true)
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
	now := int64(1_700_000_000_000)
	dir := t.TempDir()
	opts := diskOpts(&now)
	opts.Dir = dir
	m, err := mm2.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
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
	wantSeqs(t, drainStream(t, ro, id, false), 1, 800)
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
