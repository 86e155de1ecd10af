package selftest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/spool"
)

// Tests 14–17: the disk tier (linux profile, disk backend). Each uses a
// store directory of its own under the run's root (a temporary directory
// removed after the run, unless --dir names one), opened with mm2.Open.
func init() {
	disk := []Backend{Disk}
	register(Test{Num: 14, Name: "tiering: RAM to disk at 80 % pool use, FIFO across tiers", Backends: disk, Run: testTiering})
	register(Test{Num: 15, Name: "caps: disk cap drops the oldest segments, counted", Backends: disk, Run: testDiskCap})
	register(Test{Num: 16, Name: "power-down and recovery", Backends: disk, Run: testPowerDownRecovery})
	register(Test{Num: 17, Name: "torn writes: a torn tail is cut at Open", Backends: disk, Run: testTornWrites})
}

// Small disk-tier figures so a test spills and rotates quickly: a 2 KB pool
// (64 sectors of 32 bytes) and 4 KB segments (the smallest allowed).
const (
	smallPool    = 2048
	smallSegment = 4096
)

// diskOptions are the run's options for a new store with a small pool and
// small segments.
func diskOptions(e *Env) mm2.Options {
	o := e.Options()
	o.Profile.PoolBytes = smallPool
	o.SegmentBytes = smallSegment
	return o
}

// reopen opens the store of opts again, as a restarted gateway does.
func reopen(e *Env, opts mm2.Options) *mm2.Manager {
	m := e.OpenWith(opts)
	m.SetUTCAvailable(true)
	return m
}

// spillSectors is the pool use at which new sectors go to disk: the first
// sector count at or above the spill percentage.
func spillSectors(total, pct int) int { return (total*pct + 99) / 100 }

// readBack reads every unread record of s and checks it against the
// records written to it: sequence numbers from first, in order, with their
// values and times.
func readBack(e *Env, s *mm2.Stream, want []mm2.Sample, what string) []mm2.Sample {
	got := readAll(e, s)
	Eq(e, len(got), len(want), "%s: records of %v", what, s.ID())
	for i := range got {
		if got[i] != want[i] {
			e.Failf("%s: record %d of %v is %+v, want %+v", what, i, s.ID(), got[i], want[i])
		}
	}
	return got
}

// written writes n records to s (values from first, stamped with the clock,
// which advances step ms after each) and returns them as a reader must see
// them, numbered from seq. A TSD stream's samples must fall on their slots
// (the caller advances the clock by the period between them), or the times
// read back are the slots'.
func written(e *Env, s *mm2.Stream, step int64, n int, first uint32, seq uint64) []mm2.Sample {
	out := make([]mm2.Sample, n)
	for i := range out {
		out[i] = mm2.Sample{Value: first + uint32(i), UTCms: e.Now(), Seq: seq + uint64(i)}
		if s.Kind() == mm2.TSD {
			e.NoErr(s.WriteTSD(out[i].Value), "WriteTSD to %v", s.ID())
		} else {
			e.NoErr(s.WriteEVT(out[i].Value, out[i].UTCms), "WriteEVT to %v", s.ID())
		}
		e.Advance(step)
	}
	return out
}

// 14: below the spill threshold new sectors come from RAM; from 80 % pool
// use new sectors go to disk, and RAM never grows past the threshold's
// sector. Reads then cross from RAM to disk in write order, and records
// written after RAM was freed still queue behind the disk part.
func testTiering(e *Env) {
	opts := diskOptions(e)
	m := e.OpenWith(opts)
	m.SetUTCAvailable(true)
	total := sectors(m)
	spill := spillSectors(total, mm2.DefaultSpillPercent)
	t := e.Configure(m, sid(mm2.Gateway, 14), mm2.TSD, ms(10))
	v := e.Configure(m, sid(mm2.CAN, 14), mm2.EVT, 0)
	var wantT, wantV []mm2.Sample
	maxUsed, usedAtFirstDisk := 0, -1
	for i := 0; usedAtFirstDisk < 0 || i < 3*total || m.Stats().DiskFiles == 0; i++ {
		wantT = append(wantT, written(e, t, 0, 1, uint32(i), uint64(len(wantT)+1))...)
		if i%3 == 0 {
			wantV = append(wantV, written(e, v, 0, 1, uint32(50_000+i), uint64(len(wantV)+1))...)
		}
		e.Advance(10)
		st := m.Stats()
		maxUsed = max(maxUsed, st.SectorsUsed)
		if st.DiskRecords > 0 && usedAtFirstDisk < 0 {
			usedAtFirstDisk = st.SectorsUsed
		}
		if i > 10*total {
			e.Failf("nothing went to disk after %d writes (pool %d of %d sectors)", i, st.SectorsUsed, total)
		}
	}
	e.Check(m, "after spilling")
	e.True(usedAtFirstDisk >= spill, "the first record went to disk at %d of %d sectors, below %d %%", usedAtFirstDisk, total, mm2.DefaultSpillPercent)
	Eq(e, maxUsed, spill, "RAM sectors at most (the first at or above %d %% of %d)", mm2.DefaultSpillPercent, total)
	st := m.Stats()
	e.True(st.DiskRecords > 0 && st.DiskFiles > 0 && st.DiskBytes > 0, "disk figures after spilling: %+v", st)
	ts, vs := t.Stats(), v.Stats()
	e.True(ts.SectorsRAM > 0 && ts.SectorsDisk > 0, "%v is not in both tiers: ram %d, disk %d", t.ID(), ts.SectorsRAM, ts.SectorsDisk)
	Eq(e, uint64(len(wantT)+len(wantV)), st.New, "records stored")
	Eq(e, ts.OldestUnackedMs, wantT[0].UTCms, "oldest unacknowledged time of %v", t.ID())
	Eq(e, vs.OldestUnackedMs, wantV[0].UTCms, "oldest unacknowledged time of %v", v.ID())

	// Acknowledge all but the newest 20 records of the TSD stream: its
	// whole RAM part and most of its disk part. Its RAM sectors free; what
	// it is written next still queues behind its 20 records on disk, so it
	// goes to disk too.
	got := readN(e, t, len(wantT)-20)
	e.True(slices.Equal(got, wantT[:len(got)]), "%v: reads across the tiers differ from the writes", t.ID())
	_, err := t.Ack()
	e.NoErr(err, "Ack")
	e.Check(m, "after acknowledging the RAM part")
	Eq(e, t.Stats().SectorsRAM, 0, "RAM sectors of %v after acknowledging its RAM part", t.ID())
	e.True(m.Stats().SectorsUsed < maxUsed, "acknowledging the RAM part freed nothing: %d sectors", m.Stats().SectorsUsed)
	done := len(got)
	wantT = append(wantT[done:], written(e, t, 10, 40, 900_000, uint64(len(wantT)+1))...)
	wantV = append(wantV, written(e, v, 0, 10, 990_000, uint64(len(wantV)+1))...)
	Eq(e, t.Stats().SectorsRAM, 0, "RAM sectors of %v after writing behind its disk part", t.ID())
	e.Check(m, "after writing behind the disk part")
	readBack(e, t, wantT, "FIFO across tiers")
	readBack(e, v, wantV, "FIFO across tiers")
	for _, s := range []*mm2.Stream{t, v} {
		_, err := s.Ack()
		e.NoErr(err, "Ack of %v", s.ID())
	}
	e.Check(m, "after acknowledging everything")
	st = m.Stats()
	Eq(e, [3]uint64{st.New, st.Pending, st.DiskRecords}, [3]uint64{0, 0, 0}, "new, pending, disk records after acknowledging everything")
	Eq(e, st.SectorsUsed, 0, "RAM sectors after acknowledging everything")
	e.Fig("pool_sectors", total)
	e.Fig("ram_sectors_max", maxUsed)
	e.Fig("spill_at_sector", usedAtFirstDisk)
	e.Fig("records", done+len(wantT)+len(wantV))
}

// 15: at the disk cap the oldest whole segments are dropped, each record
// counted as a disk-cap drop of its stream; what is left is the newest
// records, in order, and the disk stays within its cap.
func testDiskCap(e *Env) {
	opts := diskOptions(e)
	opts.DiskCapBytes = 4 * smallSegment
	m := e.OpenWith(opts)
	m.SetUTCAvailable(true)
	t := e.Configure(m, sid(mm2.Hosted, 15), mm2.TSD, ms(10))
	v := e.Configure(m, sid(mm2.BLE, 15), mm2.EVT, 0)
	var wantT, wantV []mm2.Sample
	maxBytes, after := int64(0), -1
	for i := 0; after < 0 || i < after; i++ {
		wantT = append(wantT, written(e, t, 0, 1, uint32(i), uint64(i+1))...)
		if i%4 == 0 {
			wantV = append(wantV, written(e, v, 0, 1, uint32(70_000+i), uint64(len(wantV)+1))...)
		}
		e.Advance(10)
		st := m.Stats()
		maxBytes = max(maxBytes, st.DiskBytes)
		if after < 0 && st.Drops.DiskCap > 0 {
			after = i + 2*smallSegment/4 // two more segments of samples: the cap is hit again
		}
		if i > 100_000 {
			e.Failf("no disk-cap drop after %d writes: %+v", i, st)
		}
	}
	e.Check(m, "after reaching the cap")
	st := m.Stats()
	e.True(maxBytes <= opts.DiskCapBytes, "disk use reached %d bytes, over the cap of %d", maxBytes, opts.DiskCapBytes)
	// Never more than needed: dropping whole segments, at most one
	// segment (and the one being started) below the cap.
	e.True(st.DiskBytes > opts.DiskCapBytes-3*int64(opts.SegmentBytes), "disk holds %d bytes: more dropped than needed for a cap of %d", st.DiskBytes, opts.DiskCapBytes)
	Eq(e, st.Drops.RAMFull+st.Drops.Corrupt, 0, "drops other than disk-cap")
	var sum uint64
	for _, c := range []struct {
		s    *mm2.Stream
		want []mm2.Sample
	}{{t, wantT}, {v, wantV}} {
		ss := c.s.Stats()
		sum += ss.Drops.DiskCap
		Eq(e, uint64(ss.Counts.Total)+ss.Drops.DiskCap, uint64(len(c.want)), "%v: stored + dropped", c.s.ID())
		// The drops are the oldest records on disk, whole segments: the
		// RAM part (older, kept until acknowledged) is followed by a gap
		// of exactly the dropped records, then the newest ones.
		got := readAll(e, c.s)
		Eq(e, len(got), ss.Counts.Total, "%v: records read", c.s.ID())
		ram := 0
		for ram < len(got) && got[ram] == c.want[ram] {
			ram++
		}
		rest := c.want[min(len(c.want), ram+int(ss.Drops.DiskCap)):]
		e.True(slices.Equal(got[ram:], rest), "%v: after %d records from RAM, %d read are not the newest %d written after a gap of %d",
			c.s.ID(), ram, len(got)-ram, len(rest), ss.Drops.DiskCap)
		_, err := c.s.Ack()
		e.NoErr(err, "Ack of %v", c.s.ID())
	}
	Eq(e, sum, st.Drops.DiskCap, "per-stream disk-cap drops summed")
	e.True(t.Stats().Drops.DiskCap > 0, "no drop counted on %v", t.ID())
	e.Check(m, "after acknowledging what was left")
	e.Fig("cap_bytes", opts.DiskCapBytes)
	e.Fig("disk_bytes_max", maxBytes)
	e.Fig("dropped", st.Drops.DiskCap)
	e.Fig("records", len(wantT)+len(wantV))
}

// 16: PowerDown writes everything unacknowledged (RAM and disk parts) and
// every cursor; the power then goes (no Close). Open brings every
// unacknowledged record back in order with its sequence number and time,
// pending ones as unread, acknowledged ones never, and numbering goes on
// without a gap.
func testPowerDownRecovery(e *Env) {
	opts := diskOptions(e)
	// Opened outside the harness's bookkeeping: the power goes while it is
	// powered down, so it is never closed.
	m, err := mm2.Open(opts)
	e.NoErr(err, "Open")
	m.SetUTCAvailable(true)
	ids := []mm2.StreamID{sid(mm2.Gateway, 16), sid(mm2.Hosted, 16), sid(mm2.CAN, 16)}
	kinds := []mm2.Kind{mm2.TSD, mm2.EVT, mm2.TSD}
	const period = 20 // ms, of both TSD streams: one round of writes per period
	streams := make([]*mm2.Stream, len(ids))
	want := make([][]mm2.Sample, len(ids))
	for k, id := range ids {
		p := ms(period)
		if kinds[k] == mm2.EVT {
			p = 0
		}
		streams[k] = e.Configure(m, id, kinds[k], p)
	}
	const n = 300
	for i := range n {
		for k, s := range streams {
			want[k] = append(want[k], written(e, s, 0, 1, uint32(k*10_000+i), uint64(i+1))...)
		}
		e.Advance(period)
	}
	e.True(m.Stats().DiskRecords > 0, "nothing spilled to disk: %+v", m.Stats())
	// 100 acknowledged on the first stream, 50 pending on the second.
	readN(e, streams[0], 100)
	_, err = streams[0].Ack()
	e.NoErr(err, "Ack")
	want[0] = want[0][100:]
	pending := readN(e, streams[1], 50)
	e.True(slices.Equal(pending, want[1][:50]), "pending records differ from those written")
	e.Check(m, "before the power-down")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e.NoErr(m.PowerDown(ctx), "PowerDown")
	e.Is(streams[0].WriteTSD(1), mm2.ErrPoweringDown, "a write during the power-down")
	e.Check(m, "after the power-down")
	unacked := uint64(0)
	for _, w := range want {
		unacked += uint64(len(w))
	}

	// The power goes: m is abandoned as it is.
	m2 := reopen(e, opts)
	st := m2.Stats()
	Eq(e, st.RecordsRecovered, unacked, "records recovered")
	Eq(e, [2]uint64{st.New, st.Pending}, [2]uint64{unacked, 0}, "new and pending after recovery")
	e.True(len(m2.Damage()) == 0, "damage after a clean power-down: %v", m2.Damage())
	e.Check(m2, "after recovery")
	for k, id := range ids {
		s, err := m2.Stream(id)
		e.NoErr(err, "recovered stream %v", id)
		e.WantCounts(s, len(want[k]), 0, "%v after recovery", id)
		readBack(e, s, want[k], "after recovery")
		next := uint64(n + 1)
		if kinds[k] == mm2.TSD {
			e.NoErr(s.WriteTSD(7), "write after recovery")
		} else {
			e.NoErr(s.WriteEVT(7, e.Now()), "write after recovery")
		}
		smp, err := s.Read()
		e.NoErr(err, "read of the new record")
		Eq(e, smp.Seq, next, "%v: number of the first record after recovery", id)
		_, err = s.Ack()
		e.NoErr(err, "Ack after recovery")
	}
	e.Check(m2, "after acknowledging everything recovered")
	e.Fig("records_recovered", st.RecordsRecovered)
	e.Fig("disk_files", st.DiskFiles)
}

// lastFrame finds the last frame of a segment file (docs/format.md).
func lastFrame(e *Env, b []byte) (off int, h spool.FrameHeader) {
	off = -1
	for p := spool.SegmentHeaderSize; p < len(b); {
		fh, _, err := spool.DecodeFrame(b[p:])
		e.NoErr(err, "frame at offset %d", p)
		off, h = p, fh
		p += fh.Size()
	}
	e.True(off >= 0, "no frame in the segment")
	return off, h
}

// 17: the last segment's tail is torn in the middle of its last frame (as
// a power cut during a write leaves it). Open succeeds, reports the place,
// cuts the torn frame, and everything before it is intact; the torn
// records' numbers are not reused.
func testTornWrites(e *Env) {
	opts := diskOptions(e)
	m := e.OpenWith(opts)
	m.SetUTCAvailable(true)
	t := e.Configure(m, sid(mm2.Gateway, 17), mm2.TSD, ms(10))
	v := e.Configure(m, sid(mm2.BLE, 17), mm2.EVT, 0)
	var wantT, wantV []mm2.Sample
	for i := 0; m.Stats().DiskFiles < 2; i++ {
		wantT = append(wantT, written(e, t, 0, 1, uint32(i), uint64(i+1))...)
		if i%2 == 0 {
			wantV = append(wantV, written(e, v, 0, 1, uint32(80_000+i), uint64(len(wantV)+1))...)
		}
		e.Advance(10)
		if i > 20_000 {
			e.Failf("no second segment after %d writes", i)
		}
	}
	e.Close(m)

	entries, err := os.ReadDir(opts.Dir)
	e.NoErr(err, "reading the store")
	var last string
	for _, en := range entries {
		if _, ok := spool.ParseSegmentName(en.Name()); ok && en.Name() > last {
			last = en.Name()
		}
	}
	e.True(last != "", "no segment file in %s", opts.Dir)
	name := filepath.Join(opts.Dir, last)
	b, err := os.ReadFile(name)
	e.NoErr(err, "reading %s", last)
	off, h := lastFrame(e, b)
	cut := off + spool.FrameHeaderSize + int(h.Len)/2
	e.NoErr(os.Truncate(name, int64(cut)), "truncating %s", last)
	torn := sid(mm2.Source(h.Source), h.Sensor)
	tornFrom := h.FirstSeq

	m2 := reopen(e, opts)
	dmg := m2.Damage()
	e.True(len(dmg) == 1, "damage after a torn tail: %v", dmg)
	var ce *mm2.CorruptionError
	e.True(errors.As(dmg[0], &ce) && ce.File == last && ce.Offset == int64(off), "damage %v, want %s at offset %d", dmg[0], last, off)
	fi, err := os.Stat(name)
	e.NoErr(err, "stat %s", last)
	Eq(e, fi.Size(), int64(off), "%s after Open: the torn frame cut", last)
	e.Check(m2, "after opening a torn store")
	for _, c := range []struct {
		s    *mm2.Stream
		want []mm2.Sample
	}{{t, wantT}, {v, wantV}} {
		s, err := m2.Stream(c.s.ID())
		e.NoErr(err, "stream %v after the reopen", c.s.ID())
		want := c.want
		if c.s.ID() == torn {
			want = want[:tornFrom-1]
		}
		readBack(e, s, want, "before the torn frame")
		// The next record is numbered above every number handed out
		// before (the torn ones included).
		if s.Kind() == mm2.TSD {
			e.NoErr(s.WriteTSD(1), "write after the reopen")
		} else {
			e.NoErr(s.WriteEVT(1, e.Now()), "write after the reopen")
		}
		smp, err := s.Read()
		e.NoErr(err, "read of the new record")
		e.True(smp.Seq > uint64(len(c.want)), "%v: new record numbered %d, reusing a number up to %d", s.ID(), smp.Seq, len(c.want))
		_, err = s.Ack()
		e.NoErr(err, "Ack")
	}
	e.Check(m2, "after reading everything back")
	e.Fig("torn_stream", torn.String())
	e.Fig("torn_records", int(h.Count))
	e.Fig("cut_at", off)
	e.Fig("records", len(wantT)+len(wantV))
}
