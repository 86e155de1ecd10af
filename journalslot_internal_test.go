package mm2

import (
	"testing"
	"time"

	"github.com/mm2go/mm2/internal/journal"
	"github.com/mm2go/mm2/vfs"
)

// A TSD record in the next slot of the frame being filled is journaled as
// kind 13, without its time (12 journal bytes instead of 20), and a process
// crash brings every one back with its number, value and derived time; a
// record whose frame holds nothing unacknowledged before it keeps kind 4.
func TestDiskSlotRecordsJournaledWithoutTime(t *testing.T) {
	mem := vfs.NewMem()
	now := int64(1_700_000_000_000)
	p := ProfileLinux
	p.PoolBytes = 1 << 10
	opts := Options{Profile: p, Dir: "store", SegmentBytes: 4 << 10, DiskCapBytes: 1 << 20,
		Clock: func() time.Time { return time.UnixMilli(now) }}
	m, err := OpenFS(opts, mem)
	if err != nil {
		t.Fatal(err)
	}
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
