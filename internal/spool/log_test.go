package spool

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"testing"

	"github.com/mm2go/mm2/vfs"
)

const testDir = "store"

// testSegBytes holds 11 frames of testRecords records.
const (
	testSegBytes = 1024
	testRecords  = 10
)

// testFrame is a TSD frame of n records of stream sensor (source 1) from
// sequence number seq.
func testFrame(t testing.TB, sensor uint32, seq uint64, n int) []byte {
	t.Helper()
	var b Builder
	b.Reset(KindTSD, 1, sensor, 1000)
	for i := range uint64(n) {
		if !b.Add(seq+i, uint32(seq+i), 1_700_000_000_000+int64(seq+i)*1000) {
			t.Fatalf("frame of %d records: Add %d refused", n, i)
		}
	}
	return AppendFrame(nil, b.H, b.Payload)
}

func newTestLog(t testing.TB, fsys vfs.FS) *Log {
	t.Helper()
	if err := errors.Join(fsys.MkdirAll(testDir, 0o755), fsys.SyncDir(path.Dir(testDir))); err != nil {
		t.Fatal(err)
	}
	return NewLog(fsys, testDir, testSegBytes)
}

// written is a frame appended by fillLog.
type written struct {
	pos Pos
	h   FrameHeader
}

// fillLog appends frames frames of testRecords records round-robin to
// streams 1..streams, syncs and closes the log, and returns what it wrote
// in log order.
func fillLog(t testing.TB, fsys vfs.FS, streams, frames int) []written {
	t.Helper()
	return appendFrames(t, newTestLog(t, fsys), streams, frames, testRecords)
}

// appendFrames is fillLog on l, with frames of records records.
func appendFrames(t testing.TB, l *Log, streams, frames, records int) []written {
	t.Helper()
	var out []written
	for i := range frames {
		sensor := uint32(i%streams + 1)
		seq := uint64(i/streams*records + 1)
		f := testFrame(t, sensor, seq, records)
		pos, err := l.Append(f, uint16(sensor), records)
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := DecodeFrame(f)
		out = append(out, written{pos, h})
	}
	if err := errors.Join(l.Sync(), l.Close()); err != nil {
		t.Fatal(err)
	}
	return out
}

// recoverLog opens the log in fsys and recovers it, every frame live.
func recoverLog(t testing.TB, fsys vfs.FS, repair bool) (*Log, []written, []Damage) {
	t.Helper()
	l := NewLog(fsys, testDir, testSegBytes)
	var seen []written
	damage, err := l.Recover(func(pos Pos, h FrameHeader, payload []byte) (uint16, int, bool) {
		if len(payload) != int(h.Len) {
			t.Errorf("frame at %v: payload of %d bytes, header says %d", pos, len(payload), h.Len)
		}
		seen = append(seen, written{pos, h})
		return uint16(h.Sensor), int(h.Count), true
	}, repair)
	if err != nil {
		t.Fatalf("Recover(repair=%v): %v", repair, err)
	}
	return l, seen, damage
}

// readStream reads every frame of stream sensor through Next, as a reader
// draining it does.
func readStream(t testing.TB, l *Log, sensor uint32) []written {
	t.Helper()
	out, errs := readSkipping(t, l, sensor)
	if len(errs) > 0 {
		t.Fatalf("Next of stream %d: %v", sensor, errs[0])
	}
	return out
}

// readSkipping is readStream that goes on after damage, as a reader
// does, and returns the damage too.
func readSkipping(t testing.TB, l *Log, sensor uint32) ([]written, []*FrameError) {
	t.Helper()
	var out []written
	var errs []*FrameError
	pos, minSeq := Pos{}, uint64(1)
	for {
		p, h, payload, ok, err := l.Next(uint16(sensor), Match{Source: 1, Sensor: sensor, MinSeq: minSeq}, pos)
		var fe *FrameError
		if errors.As(err, &fe) && len(errs) < 100 {
			errs = append(errs, fe)
			continue
		}
		if err != nil {
			t.Fatalf("Next of stream %d after %v: %v", sensor, pos, err)
		}
		if !ok {
			return out, errs
		}
		if len(payload) != int(h.Len) || h.Sensor != sensor || h.LastSeq() < minSeq {
			t.Fatalf("Next returned %+v at %v for stream %d from seq %d", h, p, sensor, minSeq)
		}
		out = append(out, written{p, h})
		pos, minSeq = Pos{p.Seg, p.Off + int64(h.Size())}, h.LastSeq()+1
	}
}

// ofStream keeps the frames of stream sensor.
func ofStream(ws []written, sensor uint32) []written {
	var out []written
	for _, w := range ws {
		if w.h.Sensor == sensor {
			out = append(out, w)
		}
	}
	return out
}

func firstSeqs(ws []written) []uint64 {
	out := make([]uint64, len(ws))
	for i, w := range ws {
		out[i] = w.h.FirstSeq
	}
	return out
}

// fileSize is the size of a file, or -1 when it is missing.
func fileSize(t testing.TB, fsys vfs.FS, name string) int64 {
	t.Helper()
	fi, err := fsys.Stat(name)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// checkIndex checks that Total, the segment sizes and the files agree.
func checkIndex(t testing.TB, fsys vfs.FS, l *Log) {
	t.Helper()
	var total int64
	for i, s := range l.Segs {
		if i > 0 && l.Segs[i-1].No >= s.No {
			t.Errorf("segments out of order: %d before %d", l.Segs[i-1].No, s.No)
		}
		if got := fileSize(t, fsys, l.segPath(s)); got != s.Size && !s.Damaged() {
			t.Errorf("segment %d: index says %d bytes, file has %d", s.No, s.Size, got)
		}
		total += s.Size
	}
	if st := l.Stats(); total != l.Total || st.Bytes != total || st.Segments != len(l.Segs) || l.Len() != len(l.Segs) {
		t.Errorf("Total %d, Stats %+v, Len %d; the segments hold %d bytes in %d files", l.Total, st, l.Len(), total, len(l.Segs))
	}
}

func TestLogAppendRotateNext(t *testing.T) {
	fsys := vfs.NewMem()
	l := newTestLog(t, fsys)
	if l.Active() != nil || l.Front() != nil || l.End() != (Pos{Seg: 1}) {
		t.Fatalf("empty log: active %v front %v end %v", l.Active(), l.Front(), l.End())
	}
	var ws []written
	for i := range 36 {
		sensor := uint32(i%3 + 1)
		f := testFrame(t, sensor, uint64(i/3*testRecords+1), testRecords)
		pos, err := l.Append(f, uint16(sensor), testRecords)
		if err != nil {
			t.Fatal(err)
		}
		if end := l.End(); end != (Pos{pos.Seg, pos.Off + int64(len(f))}) {
			t.Fatalf("End %v after a frame of %d bytes at %v", end, len(f), pos)
		}
		h, _, _ := DecodeFrame(f)
		ws = append(ws, written{pos, h})
	}
	// 88-byte frames, 11 to a 1024-byte segment.
	if len(l.Segs) != 4 || l.Active() != l.Segs[3] || l.Front() != l.Segs[0] {
		t.Fatalf("%d segments, active %v", len(l.Segs), l.Active())
	}
	for i, s := range l.Segs {
		if s.Size > testSegBytes || s.No != uint64(i+1) {
			t.Errorf("segment %d of %d bytes numbered %d", i, s.Size, s.No)
		}
		want := 11 * testRecords
		if i == 3 {
			want = 3 * testRecords
		}
		if s.Unacked() != want || !slices.Equal(s.Streams, []uint16{1, 2, 3}) {
			t.Errorf("segment %d: %d unacked, streams %v", s.No, s.Unacked(), s.Streams)
		}
	}
	checkIndex(t, fsys, l)
	for sensor := uint32(1); sensor <= 3; sensor++ {
		got := readStream(t, l, sensor)
		if want := ofStream(ws, sensor); !slices.Equal(got, want) {
			t.Errorf("stream %d reads %v, want %v", sensor, got, want)
		}
	}
	// MinSeq inside a frame finds the frame holding it.
	p, h, _, ok, err := l.Next(2, Match{Source: 1, Sensor: 2, MinSeq: 55}, Pos{})
	if err != nil || !ok || h.FirstSeq != 51 || p != ofStream(ws, 2)[5].pos {
		t.Errorf("Next from seq 55: %v %+v %v %v", p, h, ok, err)
	}
	// A stream with no frame, and a source that does not match.
	if _, _, _, ok, err := l.Next(4, Match{Source: 1, Sensor: 4, MinSeq: 1}, Pos{}); ok || err != nil {
		t.Errorf("Next of an absent stream: %v %v", ok, err)
	}
	if _, _, _, ok, err := l.Next(1, Match{Source: 2, Sensor: 1, MinSeq: 1}, Pos{}); ok || err != nil {
		t.Errorf("Next of another source: %v %v", ok, err)
	}
	if got := l.Find(3); got != l.Segs[2] || l.Find(9) != nil {
		t.Errorf("Find(3) = %v, Find(9) = %v", got, l.Find(9))
	}
}

func TestLogSyncCountsAndSurvivesCrash(t *testing.T) {
	mem := vfs.NewMem()
	l := newTestLog(t, mem)
	if _, err := l.Append(testFrame(t, 1, 1, testRecords), 1, testRecords); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Syncs != 0 || st.BytesWritten != uint64(SegmentHeaderSize+88) {
		t.Fatalf("after one append: %+v", st)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := l.Stats().Syncs; got != 2 { // the file and the directory (new file)
		t.Fatalf("first Sync: %d syncs, want 2", got)
	}
	if err := l.Sync(); err != nil || l.Stats().Syncs != 2 {
		t.Fatalf("Sync with nothing new: %v, %d syncs", err, l.Stats().Syncs)
	}
	l.AddIO(100, 3)
	if st := l.Stats(); st.Syncs != 5 || st.BytesWritten != uint64(SegmentHeaderSize+88+100) {
		t.Fatalf("after AddIO: %+v", st)
	}
	// An unsynced append may be lost by a power cut; the synced one is not.
	if _, err := l.Append(testFrame(t, 1, 11, testRecords), 1, testRecords); err != nil {
		t.Fatal(err)
	}
	snap := mem.CrashClone(vfs.CrashSynced, nil)
	_, seen, damage := recoverLog(t, snap, true)
	if len(seen) != 1 || seen[0].h.FirstSeq != 1 || len(damage) != 0 {
		t.Fatalf("after a power cut: frames %v, damage %v", seen, damage)
	}
}

func TestLogUnappend(t *testing.T) {
	fsys := vfs.NewMem()
	l := newTestLog(t, fsys)
	f := testFrame(t, 1, 1, testRecords)
	p1, _ := l.Append(f, 1, testRecords)
	p2, err := l.Append(f, 1, testRecords)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unappend(p1, int64(len(f)), testRecords); err == nil || l.Cuts() != 0 {
		t.Fatalf("Unappend of a frame that is not the last: %v, %d cuts", err, l.Cuts())
	}
	if err := l.Unappend(p2, int64(len(f)), testRecords); err != nil || l.Cuts() != 1 {
		t.Fatalf("Unappend: %v, %d cuts", err, l.Cuts())
	}
	if a := l.Active(); a.Size != p2.Off || a.Unacked() != testRecords {
		t.Fatalf("after Unappend: %d bytes, %d unacked", a.Size, a.Unacked())
	}
	checkIndex(t, fsys, l)
}

func TestLogRemoveAnySegment(t *testing.T) {
	fsys := vfs.NewMem()
	ws := fillLog(t, fsys, 3, 40) // 4 segments
	l, _, damage := recoverLog(t, fsys, true)
	if len(damage) != 0 || len(l.Segs) != 4 {
		t.Fatalf("%d segments, damage %v", len(l.Segs), damage)
	}
	// Make segment 4 active again: Append continues in a new segment 5.
	if _, err := l.Append(testFrame(t, 1, 1000, 1), 1, 1); err != nil {
		t.Fatal(err)
	}
	if a := l.Active(); a == nil || a.No != 5 {
		t.Fatalf("active segment %v, want 5", a)
	}
	s2 := l.Find(2)
	before := l.Stats()
	for _, c := range []struct {
		no   uint64
		what string
	}{{2, "unacknowledged records"}, {5, "the active segment"}, {9, "an unknown segment"}} {
		if err := l.Remove(c.no); err == nil {
			t.Errorf("Remove of %s (%d) succeeded", c.what, c.no)
		}
	}
	if l.Stats() != before || fileSize(t, fsys, l.path(2)) < 0 {
		t.Fatalf("a refused Remove changed the log: %+v, was %+v", l.Stats(), before)
	}
	// All of segment 2 acknowledged: it goes, though 1 before it is pinned.
	s2.AddLive(-s2.Unacked())
	if err := l.Remove(2); err != nil {
		t.Fatal(err)
	}
	if l.Find(2) != nil || fileSize(t, fsys, l.path(2)) >= 0 || len(l.Segs) != 4 {
		t.Fatalf("segment 2 still there: %v, file %d bytes", l.Find(2), fileSize(t, fsys, l.path(2)))
	}
	if st := l.Stats(); st.Bytes != before.Bytes-s2.Size {
		t.Errorf("Total %d after removing %d of %d", st.Bytes, s2.Size, before.Bytes)
	}
	checkIndex(t, fsys, l)
	// Readers step over the gap.
	for sensor := uint32(1); sensor <= 3; sensor++ {
		var want []written
		for _, w := range ofStream(ws, sensor) {
			if w.pos.Seg != 2 {
				want = append(want, w)
			}
		}
		got := readStream(t, l, sensor)
		if sensor == 1 {
			got = got[:len(got)-1] // the frame appended above
		}
		if !slices.Equal(firstSeqs(got), firstSeqs(want)) {
			t.Errorf("stream %d after removing segment 2: %v, want %v", sensor, firstSeqs(got), firstSeqs(want))
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// The front can still be dropped whatever it holds.
	if err := l.RemoveFront(); err != nil || l.Front().No != 3 {
		t.Fatalf("RemoveFront: %v, front %v", err, l.Front())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, seen, damage := recoverLog(t, fsys, true)
	if len(damage) != 0 || len(l2.Segs) != 3 || l2.Segs[0].No != 3 {
		t.Fatalf("after reopening: %d segments, damage %v", len(l2.Segs), damage)
	}
	if want := 11 + 7 + 1; len(seen) != want {
		t.Errorf("reopened log holds %d frames, want %d", len(seen), want)
	}
	checkIndex(t, fsys, l2)
}

func TestLogNeverReusesANumber(t *testing.T) {
	fsys := vfs.NewMem()
	fillLog(t, fsys, 1, 30) // 3 segments
	l, _, _ := recoverLog(t, fsys, true)
	last := l.Segs[2]
	last.AddLive(-last.Unacked())
	if err := l.Remove(last.No); err != nil {
		t.Fatal(err)
	}
	pos, err := l.Append(testFrame(t, 1, 1000, 1), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if pos.Seg != 4 {
		t.Errorf("after removing segment 3 the next segment is %d, want 4", pos.Seg)
	}
}

func TestLogRemoveFrontEmpty(t *testing.T) {
	l := newTestLog(t, vfs.NewMem())
	if err := l.RemoveFront(); err == nil {
		t.Fatal("RemoveFront of an empty log succeeded")
	}
}

func TestLogRemoveFileAlreadyGone(t *testing.T) {
	fsys := vfs.NewMem()
	fillLog(t, fsys, 1, 30)
	l, _, _ := recoverLog(t, fsys, true)
	s := l.Find(2)
	s.AddLive(-s.Unacked())
	if err := fsys.Remove(path.Join(testDir, SegmentName(2))); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(2); err != nil {
		t.Fatalf("Remove of a segment whose file is gone: %v", err)
	}
	checkIndex(t, fsys, l)
}

func TestLogRemoveFails(t *testing.T) {
	mem := vfs.NewMem()
	fillLog(t, mem, 1, 30)
	ffs := vfs.NewFaultFS(mem)
	l, _, _ := recoverLog(t, ffs, true)
	s := l.Find(2)
	s.AddLive(-s.Unacked())
	before := l.Stats()
	ffs.FailIf(func(op vfs.Op, _ string) bool { return op == vfs.OpRemove })
	if err := l.Remove(2); err == nil || !errors.Is(err, errEIO) {
		t.Fatalf("Remove on a failing disk: %v", err)
	}
	if l.Find(2) == nil || l.Stats() != before {
		t.Fatal("a failed Remove changed the index")
	}
}

// recoveredClean fills a log as fillLog does and recovers it, which must
// find no damage: segments closed, as a running store's are.
func recoveredClean(t *testing.T, streams, frames int) (*vfs.MemFS, []written, *Log) {
	t.Helper()
	mem := vfs.NewMem()
	ws := fillLog(t, mem, streams, frames)
	l, _, damage := recoverLog(t, mem, false)
	if len(damage) != 0 {
		t.Fatal(damage)
	}
	return mem, ws, l
}

func TestNextSkipsDamageFoundWhileRunning(t *testing.T) {
	mem, ws, l := recoveredClean(t, 3, 30)
	// Damage appears after recovery: a payload byte of a frame of stream 2
	// in segment 2, and the magic of a frame of stream 3 in segment 1.
	bad2, bad3 := ofStream(ws, 2)[5], ofStream(ws, 3)[1]
	if bad2.pos.Seg != 2 || bad3.pos.Seg != 1 {
		t.Fatalf("frames at %v and %v", bad2.pos, bad3.pos)
	}
	damageAt(t, mem, segPath(2), bad2.pos.Off+FrameHeaderSize+1)
	damageAt(t, mem, segPath(1), bad3.pos.Off)

	// Frames finds the damage once, then lists the segment past it.
	fr, err := l.Frames(1, nil)
	var fe *FrameError
	if !errors.As(err, &fe) || fe.Pos != bad3.pos || fe.Bytes != int64(bad3.h.Size()) || !errors.Is(err, ErrMagic) || len(fr) != 5 {
		t.Fatalf("Frames of the damaged segment: %d frames, %v", len(fr), err)
	}
	fr, err = l.Frames(1, fr[:0])
	if err != nil || len(fr) != 10 || slices.ContainsFunc(fr, func(f FrameAt) bool { return f.Pos == bad3.pos }) {
		t.Fatalf("Frames again: %d frames, %v", len(fr), err)
	}
	for sensor := uint32(1); sensor <= 3; sensor++ {
		got, errs := readSkipping(t, l, sensor)
		want := without(ofStream(ws, sensor), bad2.pos, bad3.pos)
		sameFrames(t, fmt.Sprintf("stream %d", sensor), got, want, true)
		if sensor != 2 {
			if len(errs) != 0 {
				t.Errorf("stream %d: %v", sensor, errs)
			}
			continue
		}
		// Stream 2 meets its damaged frame once, with the header to count
		// the records lost.
		if len(errs) != 1 || errs[0].Pos != bad2.pos || errs[0].Header == nil || errs[0].Header.FirstSeq != bad2.h.FirstSeq || !errors.Is(errs[0], ErrChecksum) {
			t.Fatalf("stream 2: damage %v", errs)
		}
	}
	if got, errs := readSkipping(t, l, 2); len(errs) != 0 || len(got) != 9 {
		t.Fatalf("second read of stream 2: %d frames, %v", len(got), errs)
	}
}

// logWithBadBlock is a recovered log of one stream (300 frames of 256
// records) whose first segment has a bad block at 70,000 bytes found only
// after Open: reads of it fail with EIO.
func logWithBadBlock(t *testing.T) (*Log, []written, *vfs.BadBlockFS) {
	t.Helper()
	bb := vfs.NewBadBlockFS(vfs.NewMem())
	if err := bb.MkdirAll(testDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ws := appendFrames(t, NewLog(bb, testDir, 200<<10), 1, 300, 256)
	l, _, damage := recoverLog(t, bb, false)
	if len(damage) != 0 {
		t.Fatal(damage)
	}
	bb.Add(segPath(1), 70_000, 512)
	return l, ws, bb
}

func TestNextSkipsBadBlockFoundWhileRunning(t *testing.T) {
	l, ws, _ := logWithBadBlock(t)
	got, errs := readSkipping(t, l, 1)
	want, _ := outsideChunk(ws, 1, 1)
	sameFrames(t, "read past the bad block", got, want, true)
	// A block that keeps failing is retried, then skipped.
	if len(errs) != maxUnreadable {
		t.Fatalf("damage %v, want %d EIO", errs, maxUnreadable)
	}
	for i, e := range errs {
		if !errors.Is(e, errEIO) || e.Retry != (i < maxUnreadable-1) {
			t.Fatalf("damage %d: %v (retry %v)", i, e, e.Retry)
		}
	}
}

// A read error that passes costs nothing: the frames are read again and
// none is skipped.
func TestNextRetriesAReadErrorThatPasses(t *testing.T) {
	l, ws, bb := logWithBadBlock(t)
	// Walk the stream until the bad block fails a read, once.
	pos, minSeq, met := Pos{}, uint64(1), false
	for !met {
		p, h, _, ok, err := l.Next(1, Match{Source: 1, Sensor: 1, MinSeq: minSeq}, pos)
		var fe *FrameError
		switch {
		case errors.As(err, &fe):
			if !fe.Retry {
				t.Fatalf("the first failed read skipped the block: %v", fe)
			}
			met = true
		case err != nil:
			t.Fatal(err)
		case !ok:
			t.Fatal("the bad block was never read")
		default:
			pos, minSeq = Pos{p.Seg, p.Off + int64(h.Size())}, h.LastSeq()+1
		}
	}
	bb.Clear(segPath(1))
	got, errs := readSkipping(t, l, 1)
	sameFrames(t, "read after the error passed", got, ofStream(ws, 1), true)
	if len(errs) != 0 {
		t.Fatalf("a passing read error left damage: %v", errs)
	}
}

// A sync made without the store's lock (Unsynced, SyncSegment,
// SyncedClosed) covers only what was written before it started: a segment
// that was active then and took frames after its sync, and was closed
// since, is still synced by the next Sync. (Marking it synced lost the
// frames a PowerDown had to keep.)
func TestLogSyncedClosedKeepsSegmentWrittenAfterTheSync(t *testing.T) {
	mem := vfs.NewMem()
	l := newTestLog(t, mem)
	frame := testFrame(t, 1, 1, testRecords)
	if _, err := l.Append(frame, 1, testRecords); err != nil {
		t.Fatal(err)
	}
	nos, mark := l.Unsynced()
	if len(nos) != 1 {
		t.Fatalf("unsynced %v, want the active segment", nos)
	}
	first := nos[0]
	if err := l.SyncSegment(first); err != nil {
		t.Fatal(err)
	}
	// Meanwhile: more frames, until the segment is closed by a rotation.
	for seq := uint64(11); l.Active().No == first; seq += testRecords {
		if _, err := l.Append(testFrame(t, 1, seq, testRecords), 1, testRecords); err != nil {
			t.Fatal(err)
		}
	}
	l.SyncedClosed(nos, mark)
	if again, _ := l.Unsynced(); !slices.Contains(again, first) {
		t.Fatalf("segment %d written after its sync is no longer listed unsynced: %v", first, again)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	size := l.Find(first).Size
	_, seen, damage := recoverLog(t, mem.CrashClone(vfs.CrashSynced, nil), true)
	var kept int64
	for _, w := range seen {
		if w.pos.Seg == first {
			kept = max(kept, w.pos.Off+int64(w.h.Size()))
		}
	}
	if kept != size || len(damage) != 0 {
		t.Fatalf("after a power cut segment %d holds %d of its %d bytes (damage %v)", first, kept, size, damage)
	}
	// A closed segment not written since the mark is synced for good.
	nos, mark = l.Unsynced()
	l.SyncedClosed(nos, mark)
	if again, _ := l.Unsynced(); len(again) != 0 {
		t.Fatalf("after a sync with nothing written since: %v unsynced", again)
	}
}

// With Precreate, the next segment's file is created ahead: rotations use
// it, Close removes the one left unused, and one left by a crash (empty) is
// removed by recovery without damage, its number never reused.
func TestLogPrecreatedSegments(t *testing.T) {
	mem := vfs.NewMem()
	l := newTestLog(t, mem)
	l.Precreate = true
	want := appendFrames(t, l, 2, 40, testRecords) // 4 segments, then Close
	if l.spare != nil {
		t.Fatal("Close left a segment file being created")
	}
	entries, err := mem.ReadDir(testDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(l.Segs) {
		t.Fatalf("%d files after Close, %d segments: the unused spare stayed", len(entries), len(l.Segs))
	}
	r, got, damage := recoverLog(t, mem, true)
	if len(damage) != 0 || !slices.Equal(firstSeqs(got), firstSeqs(want)) {
		t.Fatalf("after Close: damage %v, frames %v, want %v", damage, firstSeqs(got), firstSeqs(want))
	}

	// A crash with a spare created: it is in the directory, empty.
	r.Precreate = true
	if _, err := r.Append(testFrame(t, 1, 1000, testRecords), 1, testRecords); err != nil {
		t.Fatal(err)
	}
	last := r.Segs[len(r.Segs)-1].No
	sp := <-r.spare
	if sp.err != nil || sp.no != last+1 || fileSize(t, mem, path.Join(testDir, SegmentName(sp.no))) != 0 {
		t.Fatalf("spare %d (err %v), active %d", sp.no, sp.err, last)
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	crashed := mem // a process crash: everything written is there
	after, _, damage := recoverLog(t, crashed, true)
	if len(damage) != 0 {
		t.Fatalf("a spare left by a crash reported as damage: %v", damage)
	}
	if _, err := crashed.Stat(path.Join(testDir, SegmentName(sp.no))); err == nil {
		t.Fatal("recovery kept the empty spare")
	}
	if no := after.next(); no <= sp.no {
		t.Fatalf("next segment %d after recovery reuses the spare's number %d", no, sp.no)
	}
	_ = sp.f.Close()
}

// ReadFrames reads a segment as its view saw it, from the file, and fails
// on anything else: a file removed or cut since, damage left in place.
func TestReadFramesOfAView(t *testing.T) {
	mem := vfs.NewMem()
	l := newTestLog(t, mem)
	want := appendFrames(t, l, 3, 25, testRecords) // 3 segments, closed
	views := l.Views(nil)
	if len(views) != len(l.Segs) || len(views) < 3 {
		t.Fatalf("%d views of %d segments", len(views), len(l.Segs))
	}
	var buf []byte
	var got []FrameAt
	for _, v := range views {
		var fs []FrameAt
		var err error
		buf, fs, err = l.ReadFrames(v, buf, nil)
		if err != nil {
			t.Fatalf("segment %d: %v", v.No, err)
		}
		got = append(got, fs...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d frames read, %d written", len(got), len(want))
	}
	for i := range got {
		if got[i].Pos != want[i].pos || got[i].Header.FirstSeq != want[i].h.FirstSeq {
			t.Fatalf("frame %d at %v (first %d), written at %v (first %d)", i, got[i].Pos, got[i].Header.FirstSeq, want[i].pos, want[i].h.FirstSeq)
		}
	}
	longer := views[2]
	longer.Size++
	damaged := views[1]
	damaged.Damaged = true
	if err := l.RemoveFront(); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]SegmentView{"removed": views[0], "longer than its file": longer, "damaged": damaged} {
		if _, _, err := l.ReadFrames(v, buf, nil); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

// RetireAcked removes every segment without unacknowledged records,
// wherever it sits, and never the one being appended to.
func TestLogRetireAcked(t *testing.T) {
	mem := vfs.NewMem()
	fillLog(t, mem, 2, 40) // 4 segments of 10-record frames
	l, _, _ := recoverLog(t, mem, true)
	if l.Len() < 4 {
		t.Fatalf("%d segments", l.Len())
	}
	middle := l.Segs[1]
	middle.AddLive(-middle.Unacked())
	if _, err := l.Append(testFrame(t, 1, 10_000, testRecords), 1, testRecords); err != nil {
		t.Fatal(err)
	}
	active := l.Active()
	active.AddLive(-active.Unacked())
	before, size := l.Len(), l.Size()
	if err := l.RetireAcked(); err != nil {
		t.Fatal(err)
	}
	if l.Len() != before-1 || l.Find(middle.No) != nil || l.Active() != active || l.Size() != size-middle.Size {
		t.Fatalf("after RetireAcked: %d of %d segments, middle found %v, active kept %v, %d bytes", l.Len(), before, l.Find(middle.No) != nil, l.Active() == active, l.Size())
	}
	checkIndex(t, mem, l)
}

// TestNextIndexStopsAtDamage: Next finds a stream's frames in a closed
// segment through the segment's index of frames by stream; the index ends
// at a header that does not parse, and the frames after it are found by
// scanning, which reports the damage once to the reader that meets it.
func TestNextIndexStopsAtDamage(t *testing.T) {
	mem, ws, l := recoveredClean(t, 5, 60)
	bad := ofStream(ws, 3)[1] // the magic of a frame of stream 3 in segment 1
	if bad.pos.Seg != 1 {
		t.Fatalf("frame at %v", bad.pos)
	}
	damageAt(t, mem, segPath(1), bad.pos.Off)
	// Stream 1 has frames before and after the damaged one in segment 1:
	// the ones after it are past the index's end.
	got, errs := readSkipping(t, l, 1)
	sameFrames(t, "stream 1", got, ofStream(ws, 1), true)
	if len(errs) != 1 || errs[0].Pos != bad.pos || errs[0].Header != nil || !errors.Is(errs[0], ErrMagic) {
		t.Fatalf("stream 1: damage %v", errs)
	}
	// The damage is a hole from then on: the segment is indexed again
	// around it, and every stream reads all its good frames without error.
	for sensor := uint32(1); sensor <= 5; sensor++ {
		got, errs := readSkipping(t, l, sensor)
		sameFrames(t, fmt.Sprintf("stream %d", sensor), got, without(ofStream(ws, sensor), bad.pos), true)
		if len(errs) != 0 {
			t.Errorf("stream %d: %v", sensor, errs)
		}
	}
	if c := l.cachedSeg(1); c == nil || !c.indexed || c.end != int64(len(c.b)) || len(c.refs) != 10 {
		t.Fatalf("segment 1's index: %+v", c)
	}
}
