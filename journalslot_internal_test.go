package mm2

import (
	"testing"
	"time"

	"github.com/mm2go/mm2/internal/journal"
	"github.com/mm2go/mm2/vfs"
)

// openSpilling opens a linux store on mem with a 1 KB pool, so that most
// records go to disk, on the clock *now.
func openSpilling(t *testing.T, mem vfs.FS, now *int64) (*Manager, Options) {
	t.Helper()
	p := ProfileLinux
	p.PoolBytes = 1 << 10
	opts := Options{Profile: p, Dir: "store", SegmentBytes: 4 << 10, DiskCapBytes: 1 << 20,
		Clock: func() time.Time { return time.UnixMilli(*now) }}
	m, err := OpenFS(opts, mem)
	if err != nil {
		t.Fatal(err)
	}
	return m, opts
}

// A TSD record in the next slot of the frame being filled is journaled as
// kind 13, without its time (12 journal bytes instead of 20), and a process
// crash brings every one back with its number, value and derived time; a
// record whose frame holds nothing unacknowledged before it keeps kind 4.
func TestDiskSlotRecordsJournaledWithoutTime(t *testing.T) {
	mem := vfs.NewMem()
	now := int64(1_700_000_000_000)
	m, opts := openSpilling(t, mem, &now)
	s, err := m.Configure(StreamID{Source: CAN, Sensor: 1}, TSD, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	write := func(n int) {
		for range n {
			now += 100 + int64(written%5) - 2 // within half a period of the slot
			if err := s.WriteTSD(uint32(written)); err != nil {
				t.Fatal(err)
			}
			written++
		}
	}
	write(600) // RAM, then the disk part
	buf := make([]Sample, 1000)
	if _, err := s.ReadBulk(buf[:600]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ack(); err != nil { // everything: the frame being filled holds nothing unacknowledged
		t.Fatal(err)
	}
	write(300)
	k, err := s.PeekBulk(buf)
	if err != nil || k != 300 {
		t.Fatalf("PeekBulk: %d, %v", k, err)
	}
	want := append([]Sample(nil), buf[:k]...)

	kinds := map[byte]int{}
	d := m.disk
	b, err := vfs.ReadFile(mem, d.dir+"/"+journal.Names[d.epoch%2])
	if err != nil {
		t.Fatal(err)
	}
	journal.Entries(b, d.epoch, func(p []byte) { kinds[p[0]]++ })
	if kinds[jDiskTSD] < 200 || kinds[jDisk] == 0 {
		t.Fatalf("journal entries by kind: %v; want most disk records as kind %d, and kind %d after the ACK", kinds, jDiskTSD, jDisk)
	}

	m2, err := OpenFS(opts, mem) // a process crash: m is abandoned
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	s2, err := m2.Stream(s.ID())
	if err != nil {
		t.Fatal(err)
	}
	var got []Sample
	for {
		k, err := s2.ReadBulk(buf)
		if err != nil {
			break
		}
		got = append(got, buf[:k]...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records back after the crash, want %d", len(got), len(want))
	}
	for i, g := range got {
		if g != want[i] || g.Seq != uint64(601+i) || g.Value != uint32(600+i) {
			t.Fatalf("record %d after the crash: %+v, before it: %+v", i, g, want[i])
		}
	}
	if err := m2.Check(); err != nil {
		t.Fatal(err)
	}
}

// A WriteBatch journals its records as group entries (kind 14): one entry
// and one check for up to 36 records, about 7 journal bytes a spilled TSD
// sample instead of 12. A process crash brings every record back, values,
// numbers and times, and the stores of other entries (an ACK between two
// batches) keep their place in the order.
func TestWriteBatchJournalsGroupEntries(t *testing.T) {
	mem := vfs.NewMem()
	now := int64(1_700_000_000_000)
	m, opts := openSpilling(t, mem, &now)
	var hs []*Stream
	for i := range 20 {
		s, err := m.Configure(StreamID{Source: CAN, Sensor: uint32(i)}, TSD, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, s)
	}
	const rounds = 300
	ws := make([]Write, len(hs))
	journaled := m.disk.jr.Appended
	for r := range rounds {
		now += 1000
		for i, s := range hs {
			ws[i] = Write{Stream: s, Value: uint32(r*100 + i), UTCms: now}
		}
		if n, err := m.WriteBatch(ws); n != len(ws) || err != nil {
			t.Fatalf("round %d: %d, %v", r, n, err)
		}
		if r == rounds/2 { // an ACK between two batches
			buf := make([]Sample, 10)
			if _, err := hs[3].ReadBulk(buf); err != nil {
				t.Fatal(err)
			}
			if _, err := hs[3].Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st := m.Stats(); st.DiskRecords < rounds*uint64(len(hs))/2 {
		t.Fatalf("only %d of %d records spilled", st.DiskRecords, rounds*len(hs))
	}
	perRecord := float64(m.disk.jr.Appended-journaled) / float64(rounds*len(hs))
	if perRecord > 8 {
		t.Fatalf("%.1f journal bytes a record, want about 7 (group entries)", perRecord)
	}
	d := m.disk
	b, err := vfs.ReadFile(mem, d.dir+"/"+journal.Names[d.epoch%2])
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[byte]int{}
	journal.Entries(b, d.epoch, func(p []byte) { kinds[p[0]]++ })
	if kinds[jGroup] == 0 {
		t.Fatalf("journal entries by kind: %v; want group entries (kind %d)", kinds, jGroup)
	}
	want := make(map[StreamID][]Sample)
	buf := make([]Sample, 1000)
	for _, s := range hs {
		k, err := s.PeekBulk(buf)
		if err != nil {
			t.Fatal(err)
		}
		want[s.ID()] = append([]Sample(nil), buf[:k]...)
	}

	m2, err := OpenFS(opts, mem) // a process crash: m is abandoned
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	for _, s := range hs {
		s2, err := m2.Stream(s.ID())
		if err != nil {
			t.Fatal(err)
		}
		k, err := s2.PeekBulk(buf)
		if err != nil || k != len(want[s.ID()]) {
			t.Fatalf("%v after the crash: %d records, %v; want %d", s.ID(), k, err, len(want[s.ID()]))
		}
		for i, g := range buf[:k] {
			if g != want[s.ID()][i] {
				t.Fatalf("%v record %d after the crash: %+v, before it: %+v", s.ID(), i, g, want[s.ID()][i])
			}
		}
	}
	if err := m2.Check(); err != nil {
		t.Fatal(err)
	}
}
