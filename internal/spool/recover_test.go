package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/mm2go/mm2/vfs"
)

var errEIO = syscall.EIO

func segPath(no uint64) string { return path.Join(testDir, SegmentName(no)) }

// readFile reads a whole file or fails the test.
func readFile(t testing.TB, fsys vfs.FS, name string) []byte {
	t.Helper()
	b, err := vfs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile replaces a file durably.
func writeFile(t testing.TB, fsys vfs.FS, name string, b []byte) {
	t.Helper()
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Sync(), f.Close(), fsys.SyncDir(path.Dir(name))); err != nil {
		t.Fatal(err)
	}
}

// damageAt flips a byte of a file, durably.
func damageAt(t testing.TB, fsys vfs.FS, name string, off int64) {
	t.Helper()
	b := readFile(t, fsys, name)
	b[off] ^= 0x5a
	writeFile(t, fsys, name, b)
}

// without drops the frames at the given positions.
func without(ws []written, drop ...Pos) []written {
	var out []written
	for _, w := range ws {
		if !slices.Contains(drop, w.pos) {
			out = append(out, w)
		}
	}
	return out
}

// sameFrames compares frames by header, and by position too when pos.
func sameFrames(t testing.TB, what string, got, want []written, pos bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames %v, want %d %v", what, len(got), firstSeqs(got), len(want), firstSeqs(want))
	}
	for i := range got {
		if got[i].h != want[i].h || (pos && got[i].pos != want[i].pos) {
			t.Fatalf("%s: frame %d is %+v at %v, want %+v at %v", what, i, got[i].h, got[i].pos, want[i].h, want[i].pos)
		}
	}
}

// checkReads reads every stream through Next and compares with the frames
// recovery visited: the positions it handed out must lead to the frames.
func checkReads(t testing.TB, l *Log, seen []written, streams int) {
	t.Helper()
	for sensor := uint32(1); sensor <= uint32(streams); sensor++ {
		sameFrames(t, fmt.Sprintf("stream %d read through Next", sensor), readStream(t, l, sensor), ofStream(seen, sensor), true)
	}
}

func hasErr(damage []Damage, target error) bool {
	for _, d := range damage {
		if errors.Is(d.Err, target) {
			return true
		}
	}
	return false
}

// corruptFiles lists the files under corrupted/.
func corruptFiles(t testing.TB, fsys vfs.FS) []string {
	t.Helper()
	ents, err := fsys.ReadDir(path.Join(testDir, CorruptDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// snapshot returns every file of the store directory and its content.
func snapshot(t testing.TB, fsys vfs.FS) map[string]string {
	t.Helper()
	ents, err := fsys.ReadDir(testDir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if !e.IsDir() {
			out[e.Name()] = string(readFile(t, fsys, path.Join(testDir, e.Name())))
		} else {
			out[e.Name()+"/"] = ""
		}
	}
	return out
}

func TestRecoverCleanLog(t *testing.T) {
	fsys := vfs.NewMem()
	ws := fillLog(t, fsys, 3, 30)
	for i, repair := range []bool{false, true} {
		l, seen, damage := recoverLog(t, fsys, repair)
		if len(damage) != 0 {
			t.Fatalf("damage in a clean log: %v", damage)
		}
		sameFrames(t, "recovered", seen, ws, true)
		if len(l.Segs) != 3+i || l.Active() != nil {
			t.Fatalf("%d segments, active %v", len(l.Segs), l.Active())
		}
		for _, s := range l.Segs[:3] {
			if s.Damaged() || !slices.Equal(s.Streams, []uint16{1, 2, 3}) || s.Unacked() == 0 {
				t.Errorf("segment %d: damaged %v, streams %v, %d unacked", s.No, s.Damaged(), s.Streams, s.Unacked())
			}
		}
		checkIndex(t, fsys, l)
		checkReads(t, l, seen, 3)
		seq := uint64(1000 + i)
		pos, err := l.Append(testFrame(t, 1, seq, 1), 1, 1)
		if err != nil || pos != (Pos{uint64(4 + i), SegmentHeaderSize}) {
			t.Fatalf("Append after recovery: %v %v", pos, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		h, _, _ := DecodeFrame(testFrame(t, 1, seq, 1))
		ws = append(ws, written{pos, h})
	}
}

func TestRecoverTornTail(t *testing.T) {
	frame := testFrame(t, 1, 1000, testRecords)
	for _, c := range []struct {
		name string
		tail []byte
	}{
		{"half a frame", frame[:len(frame)/2]},
		{"header only", frame[:FrameHeaderSize]},
		{"zeros", make([]byte, 300)},
		{"a frame with a bad checksum", append(bytes.Clone(frame[:len(frame)-1]), frame[len(frame)-1]^1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := vfs.NewMem()
			ws := fillLog(t, mem, 3, 30)
			name := segPath(3)
			good := readFile(t, mem, name)
			writeFile(t, mem, name, append(bytes.Clone(good), c.tail...))

			// Read-only: nothing changes, the tail is reported and never read.
			l, seen, damage := recoverLog(t, mem, false)
			if len(damage) != 1 || damage[0].Offset != int64(len(good)) || damage[0].Bytes != int64(len(c.tail)) {
				t.Fatalf("read-only damage %+v, want one at %d of %d bytes", damage, len(good), len(c.tail))
			}
			sameFrames(t, "read-only", seen, ws, true)
			checkReads(t, l, seen, 3)
			if got := fileSize(t, mem, name); got != int64(len(good)+len(c.tail)) {
				t.Fatalf("read-only recovery changed the file: %d bytes", got)
			}

			// Repair on a full disk: the tail is cut in place, nothing copied.
			ffs := vfs.NewFaultFS(mem)
			ffs.SetSpace(0)
			l, seen, damage = recoverLog(t, ffs, true)
			if len(damage) != 1 || hasErr(damage, ErrNotRepaired) {
				t.Fatalf("repair on a full disk: damage %+v", damage)
			}
			sameFrames(t, "repaired", seen, ws, true)
			if got := readFile(t, mem, name); !bytes.Equal(got, good) {
				t.Fatalf("after the repair the segment has %d bytes, want %d", len(got), len(good))
			}
			if q := corruptFiles(t, mem); len(q) != 0 {
				t.Fatalf("a torn tail was quarantined: %v", q)
			}
			checkIndex(t, mem, l)
			checkReads(t, l, seen, 3)
			if _, _, damage := recoverLog(t, mem, true); len(damage) != 0 {
				t.Fatalf("damage after the repair: %v", damage)
			}
		})
	}
}

func TestRecoverTornTailCannotBeCut(t *testing.T) {
	mem := vfs.NewMem()
	ws := fillLog(t, mem, 3, 30)
	name := segPath(3)
	good := readFile(t, mem, name)
	torn := append(bytes.Clone(good), testFrame(t, 1, 1000, 5)[:60]...)
	writeFile(t, mem, name, torn)
	ffs := vfs.NewFaultFS(mem)
	for _, op := range []vfs.Op{vfs.OpTruncate, vfs.OpOpenAppend, vfs.OpSync} {
		t.Run(op.String(), func(t *testing.T) {
			ffs.FailIf(func(o vfs.Op, _ string) bool { return o == op })
			l, seen, damage := recoverLog(t, ffs, true)
			if !hasErr(damage, ErrNotRepaired) || !hasErr(damage, errEIO) {
				t.Fatalf("damage %+v does not say the repair failed", damage)
			}
			sameFrames(t, "recovered", seen, ws, true)
			checkReads(t, l, seen, 3)
			if s := l.Find(3); s.Size != int64(len(good)) {
				t.Fatalf("segment 3 reads %d bytes, want the %d before the tail", s.Size, len(good))
			}
			if op != vfs.OpSync && !bytes.Equal(readFile(t, mem, name), torn) {
				t.Fatal("a failed repair changed the file")
			}
		})
	}
	ffs.FailIf(nil)
	writeFile(t, mem, name, torn)
	if _, _, damage := recoverLog(t, ffs, true); len(damage) != 1 || hasErr(damage, ErrNotRepaired) {
		t.Fatalf("once the disk works: damage %+v", damage)
	}
	if got := fileSize(t, mem, name); got != int64(len(good)) {
		t.Fatalf("segment has %d bytes after the repair, want %d", got, len(good))
	}
}

// middleDamage builds 3 segments and damages frames of segment 2: the
// payload of one (a checksum error) and the magic of another, so recovery
// must resynchronise past a header it cannot parse. It returns the frames
// written and the positions of the damaged ones.
func middleDamage(t testing.TB, fsys vfs.FS) ([]written, []Pos) {
	t.Helper()
	ws := fillLog(t, fsys, 3, 30)
	var in2 []written
	for _, w := range ws {
		if w.pos.Seg == 2 {
			in2 = append(in2, w)
		}
	}
	a, b := in2[3].pos, in2[7].pos
	damageAt(t, fsys, segPath(2), a.Off+FrameHeaderSize+5)
	damageAt(t, fsys, segPath(2), b.Off)
	return ws, []Pos{a, b}
}

func TestRecoverMiddleDamageReadOnly(t *testing.T) {
	mem := vfs.NewMem()
	ws, bad := middleDamage(t, mem)
	before := snapshot(t, mem)
	l, seen, damage := recoverLog(t, mem, false)
	if len(damage) != 2 {
		t.Fatalf("damage %+v, want 2", damage)
	}
	if d := damage[0]; d.Offset != bad[0].Off || d.Header == nil || d.Frames != 1 || d.Records != testRecords || !errors.Is(d.Err, ErrChecksum) {
		t.Errorf("first damage %+v", d)
	}
	if d := damage[1]; d.Offset != bad[1].Off || d.Header != nil || !errors.Is(d.Err, ErrMagic) || d.Bytes != 88 {
		t.Errorf("second damage %+v", d)
	}
	// Every good frame is visited where it is, and a reader (mm2 dump)
	// reads every one of them, those after the damage included.
	sameFrames(t, "visited", seen, without(ws, bad...), true)
	checkReads(t, l, seen, 3)
	if !l.Find(2).Damaged() || l.Find(1).Damaged() {
		t.Error("Damaged() does not name segment 2 alone")
	}
	if after := snapshot(t, mem); !maps.Equal(before, after) {
		t.Error("read-only recovery changed the directory")
	}
}

func TestRecoverMiddleDamageRepair(t *testing.T) {
	mem := vfs.NewMem()
	ws, bad := middleDamage(t, mem)
	original := readFile(t, mem, segPath(2))
	l, seen, damage := recoverLog(t, mem, true)
	if len(damage) != 2 || hasErr(damage, ErrNotRepaired) {
		t.Fatalf("damage %+v", damage)
	}
	sameFrames(t, "visited", seen, without(ws, bad...), false)
	checkReads(t, l, seen, 3)
	checkIndex(t, mem, l)
	if q := corruptFiles(t, mem); !slices.Equal(q, []string{SegmentName(2)}) {
		t.Fatalf("corrupted/ holds %v", q)
	}
	if got := readFile(t, mem, path.Join(testDir, CorruptDir, SegmentName(2))); !bytes.Equal(got, original) {
		t.Error("corrupted/ does not hold the damaged file as it was")
	}
	if got := fileSize(t, mem, segPath(2)); got != int64(len(original)-2*88) {
		t.Errorf("rewritten segment has %d bytes, want %d", got, len(original)-2*88)
	}
	if _, err := mem.Stat(segPath(2) + tmpSuffix); err == nil {
		t.Error("the rewrite's temporary file is left")
	}
	l2, seen2, damage := recoverLog(t, mem, true)
	if len(damage) != 0 {
		t.Fatalf("damage after the repair: %v", damage)
	}
	sameFrames(t, "after the repair", seen2, seen, true)
	checkReads(t, l2, seen2, 3)
}

func TestRecoverMiddleDamageOnFullDisk(t *testing.T) {
	mem := vfs.NewMem()
	ws, bad := middleDamage(t, mem)
	before := snapshot(t, mem)
	ffs := vfs.NewFaultFS(mem)
	ffs.SetSpace(0)
	l, seen, damage := recoverLog(t, ffs, true)
	if !hasErr(damage, ErrNotRepaired) || !hasErr(damage, syscall.ENOSPC) {
		t.Fatalf("damage %+v does not say the repair failed for want of space", damage)
	}
	// The file is used as it is: every good frame is still readable.
	sameFrames(t, "visited", seen, without(ws, bad...), true)
	checkReads(t, l, seen, 3)
	after := snapshot(t, mem)
	delete(after, CorruptDir+"/") // an empty directory may be left
	if !maps.Equal(before, after) {
		t.Errorf("a failed repair changed the files: %v", slices.Sorted(maps.Keys(after)))
	}
	ffs.SetSpace(-1)
	_, seen, damage = recoverLog(t, ffs, true)
	if len(damage) != 2 || hasErr(damage, ErrNotRepaired) {
		t.Fatalf("once space returns: damage %+v", damage)
	}
	sameFrames(t, "repaired", seen, without(ws, bad...), false)
}

func TestRecoverUnreadableSegment(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpRead, vfs.OpOpen, vfs.OpStat} {
		for _, repair := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/repair=%v", op, repair), func(t *testing.T) {
				mem := vfs.NewMem()
				ws := fillLog(t, mem, 3, 30)
				original := readFile(t, mem, segPath(2))
				ffs := vfs.NewFaultFS(mem)
				ffs.FailIf(func(o vfs.Op, name string) bool { return o == op && name == segPath(2) })
				l, seen, damage := recoverLog(t, ffs, repair)
				if len(damage) != 1 || !errors.Is(damage[0].Err, ErrUnreadable) || !errors.Is(damage[0].Err, errEIO) {
					t.Fatalf("damage %+v", damage)
				}
				var want []written
				for _, w := range ws {
					if w.pos.Seg != 2 {
						want = append(want, w)
					}
				}
				sameFrames(t, "visited", seen, want, true)
				if l.Find(2) != nil || len(l.Segs) != 2 {
					t.Fatalf("the unreadable segment is indexed: %d segments", len(l.Segs))
				}
				checkReads(t, l, seen, 3)
				moved := fileSize(t, mem, path.Join(testDir, CorruptDir, SegmentName(2)))
				if repair != (moved == int64(len(original))) || repair == (fileSize(t, mem, segPath(2)) >= 0) {
					t.Fatalf("repair=%v: corrupted/ copy %d bytes, segment file %d bytes", repair, moved, fileSize(t, mem, segPath(2)))
				}
			})
		}
	}
}

func TestRecoverUnreadableLastSegmentKeepsItsNumber(t *testing.T) {
	mem := vfs.NewMem()
	fillLog(t, mem, 3, 30)
	original := readFile(t, mem, segPath(3))
	ffs := vfs.NewFaultFS(mem)
	ffs.FailIf(func(o vfs.Op, name string) bool {
		return (o == vfs.OpRead || o == vfs.OpRename) && name == segPath(3)
	})
	l, _, damage := recoverLog(t, ffs, true)
	if !hasErr(damage, ErrUnreadable) || !hasErr(damage, ErrNotRepaired) {
		t.Fatalf("damage %+v", damage)
	}
	pos, err := l.Append(testFrame(t, 1, 1000, 1), 1, 1)
	if err != nil || pos.Seg != 4 {
		t.Fatalf("Append went to %v (%v), want a new segment 4", pos, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, mem, segPath(3)), original) {
		t.Fatal("the unreadable segment was written to")
	}
}

// TestRecoverBadBlock: one unreadable chunk in the middle of a large
// segment costs the frames in it, not the segment.
func TestRecoverBadBlock(t *testing.T) {
	for _, repair := range []bool{false, true} {
		t.Run(fmt.Sprintf("repair=%v", repair), func(t *testing.T) {
			bb := vfs.NewBadBlockFS(vfs.NewMem())
			if err := bb.MkdirAll(testDir, 0o755); err != nil {
				t.Fatal(err)
			}
			l := NewLog(bb, testDir, 200<<10)
			ws := appendFrames(t, l, 1, 300, 256)
			bb.Add(segPath(1), 70_000, 512) // in the second 64 KB chunk
			want, lost := outsideChunk(ws, 1, 1)
			l2, seen, damage := recoverLog(t, bb, repair)
			if len(damage) == 0 || !hasErr(damage, errEIO) || hasErr(damage, ErrNotRepaired) || hasErr(damage, ErrUnreadable) {
				t.Fatalf("damage %+v", damage)
			}
			sameFrames(t, "visited", seen, want, !repair)
			if repair {
				// The rewrite lives elsewhere on the medium.
				bb.Clear(segPath(1))
				if q := corruptFiles(t, bb); !slices.Equal(q, []string{SegmentName(1)}) {
					t.Fatalf("corrupted/ holds %v", q)
				}
			}
			checkReads(t, l2, seen, 1)
			if lost != 62 {
				t.Errorf("%d frames in the bad chunk, want 62", lost)
			}
		})
	}
}

// countingFS counts the bytes read through it.
type countingFS struct {
	vfs.FS
	read *atomic.Int64
}

func (c countingFS) Open(name string) (vfs.File, error) {
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return countingFile{f, c.read}, nil
}

type countingFile struct {
	vfs.File
	read *atomic.Int64
}

func (f countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.read.Add(int64(n))
	return n, err
}

func (f countingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.read.Add(int64(n))
	return n, err
}

// TestRecoverOversizedSparseFile: a segment file grown to 6 GB (sparse, as a
// filesystem error leaves it) is read only up to the bound.
func TestRecoverOversizedSparseFile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "store")
	l := NewLog(vfs.OS(), dir, testSegBytes)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ws := appendFrames(t, l, 1, 20, testRecords)
	const huge = 6 << 30
	name := filepath.Join(dir, SegmentName(1))
	if err := os.Truncate(name, huge); err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	fsys := countingFS{vfs.OS(), &read}
	for _, repair := range []bool{false, true} {
		read.Store(0)
		l := NewLog(fsys, dir, testSegBytes)
		var seen []written
		damage, err := l.Recover(func(pos Pos, h FrameHeader, _ []byte) (uint16, int, bool) {
			seen = append(seen, written{pos, h})
			return 1, int(h.Count), true
		}, repair)
		if err != nil {
			t.Fatal(err)
		}
		if !hasErr(damage, ErrOversized) || hasErr(damage, ErrNotRepaired) {
			t.Fatalf("repair=%v: damage %+v", repair, damage)
		}
		if got, bound := read.Load(), l.bound()+2*testSegBytes; got > bound {
			t.Fatalf("repair=%v: read %d bytes of a %d-byte file, bound %d", repair, got, int64(huge), bound)
		}
		sameFrames(t, "visited", seen, ws, true)
		if s := l.Find(1); s == nil || s.Size != ws[10].pos.Off+88 {
			t.Fatalf("segment 1 indexed as %+v", s)
		}
		checkReads(t, l, seen, 1)
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if repair != (fi.Size() == ws[10].pos.Off+88) {
			t.Fatalf("repair=%v: segment file has %d bytes", repair, fi.Size())
		}
	}
	q, err := os.Stat(filepath.Join(dir, CorruptDir, SegmentName(1)))
	if err != nil || q.Size() != huge {
		t.Fatalf("the oversized file is not in corrupted/: %v", err)
	}
	l2 := NewLog(vfs.OS(), dir, testSegBytes)
	if damage, err := l2.Recover(func(Pos, FrameHeader, []byte) (uint16, int, bool) { return 1, 1, true }, true); err != nil || len(damage) != 0 {
		t.Fatalf("after the repair: %v %v", damage, err)
	}
}

func TestRecoverEmptyFile(t *testing.T) {
	mem := vfs.NewMem()
	ws := fillLog(t, mem, 3, 30)
	writeFile(t, mem, segPath(4), nil) // created, crash before the header
	for _, repair := range []bool{false, true} {
		l, seen, damage := recoverLog(t, mem, repair)
		if len(damage) != 0 || len(l.Segs) != 3 {
			t.Fatalf("repair=%v: damage %v, %d segments", repair, damage, len(l.Segs))
		}
		sameFrames(t, "visited", seen, ws, true)
		if repair == (fileSize(t, mem, segPath(4)) == 0) {
			t.Fatalf("repair=%v: empty file has size %d", repair, fileSize(t, mem, segPath(4)))
		}
	}
	// A read-only pass leaves the empty file; the next segment is numbered
	// past it.
	writeFile(t, mem, segPath(4), nil)
	l, _, _ := recoverLog(t, mem, false)
	if pos, err := l.Append(testFrame(t, 1, 1000, 1), 1, 1); err != nil || pos.Seg != 5 {
		t.Fatalf("Append beside the empty segment 4 went to %v (%v), want 5", pos, err)
	}
}

func TestRecoverBadSegmentHeader(t *testing.T) {
	mem := vfs.NewMem()
	ws := fillLog(t, mem, 3, 30)
	b := readFile(t, mem, segPath(2))
	copy(b, AppendSegmentHeader(nil, 7)) // a header naming another segment
	writeFile(t, mem, segPath(2), b)
	l, seen, damage := recoverLog(t, mem, false)
	if len(damage) != 1 || damage[0].Offset != 0 || !errors.Is(damage[0].Err, ErrFormat) {
		t.Fatalf("damage %+v", damage)
	}
	sameFrames(t, "read-only", seen, ws, true)
	checkReads(t, l, seen, 3)
	_, seen, damage = recoverLog(t, mem, true)
	if len(damage) != 1 || hasErr(damage, ErrNotRepaired) {
		t.Fatalf("repair: damage %+v", damage)
	}
	sameFrames(t, "repaired", seen, ws, true)
	if no, err := ParseSegmentHeader(readFile(t, mem, segPath(2))); err != nil || no != 2 {
		t.Fatalf("rewritten header: %d %v", no, err)
	}
}

func TestRecoverSettlesInterruptedRewrite(t *testing.T) {
	t.Run("rewrite without its original", func(t *testing.T) {
		mem := vfs.NewMem()
		ws := fillLog(t, mem, 3, 30)
		b := readFile(t, mem, segPath(2))
		writeFile(t, mem, segPath(2)+tmpSuffix, b)
		if err := errors.Join(mem.Remove(segPath(2)), mem.SyncDir(testDir)); err != nil {
			t.Fatal(err)
		}
		l, seen, damage := recoverLog(t, mem, false)
		if len(damage) != 0 {
			t.Fatalf("read-only: damage %v", damage)
		}
		sameFrames(t, "read-only", seen, ws, true)
		checkReads(t, l, seen, 3)
		l, seen, damage = recoverLog(t, mem, true)
		if len(damage) != 0 {
			t.Fatalf("repair: damage %v", damage)
		}
		sameFrames(t, "repair", seen, ws, true)
		checkReads(t, l, seen, 3)
		if !bytes.Equal(readFile(t, mem, segPath(2)), b) || fileSize(t, mem, segPath(2)+tmpSuffix) >= 0 {
			t.Fatal("the rewrite was not published under the segment's name")
		}
	})
	t.Run("unfinished rewrite beside its original", func(t *testing.T) {
		mem := vfs.NewMem()
		ws := fillLog(t, mem, 3, 30)
		writeFile(t, mem, segPath(2)+tmpSuffix, []byte("half a rewr"))
		for _, repair := range []bool{false, true} {
			_, seen, damage := recoverLog(t, mem, repair)
			if len(damage) != 0 {
				t.Fatalf("repair=%v: damage %v", repair, damage)
			}
			sameFrames(t, "visited", seen, ws, true)
			if repair == (fileSize(t, mem, segPath(2)+tmpSuffix) >= 0) {
				t.Fatalf("repair=%v: the leftover is %d bytes", repair, fileSize(t, mem, segPath(2)+tmpSuffix))
			}
		}
	})
}

// TestRecoverRepairCrashPoints cuts the power at every mutating call of a
// repairing recovery (a rewrite, a quarantine and a cut tail) and checks
// that the next recovery still finds every good frame exactly once.
func TestRecoverRepairCrashPoints(t *testing.T) {
	build := func() (*vfs.MemFS, []written) {
		mem := vfs.NewMem()
		ws, bad := middleDamage(t, mem)
		b := readFile(t, mem, segPath(3))
		writeFile(t, mem, segPath(3), append(b, testFrame(t, 1, 1000, testRecords)[:70]...))
		return mem.CrashClone(vfs.CrashSynced, nil), without(ws, bad...)
	}
	base, want := build()
	count := vfs.NewCrashFS(base)
	if _, _, damage := recoverLog(t, count, true); len(damage) != 3 {
		t.Fatalf("damage %+v, want 3", damage)
	}
	n := count.Mutations()
	if n < 8 {
		t.Fatalf("only %d mutating calls in a repair", n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for k := 1; k <= n; k++ {
		mem, _ := build()
		c := vfs.NewCrashFS(mem)
		c.CrashAt(k)
		l := NewLog(c, testDir, testSegBytes)
		_, _ = l.Recover(func(Pos, FrameHeader, []byte) (uint16, int, bool) { return 0, 0, false }, true)
		for _, mode := range vfs.CrashModes() {
			for range 3 {
				snap := c.Snapshot(mode, rng)
				l, seen, _ := recoverLog(t, snap, true)
				sameFrames(t, fmt.Sprintf("crash at call %d of %d (%v)", k, n, mode), seen, want, false)
				checkReads(t, l, seen, 3)
				if _, _, damage := recoverLog(t, snap, true); len(damage) != 0 {
					t.Fatalf("crash at call %d (%v): damage after a second repair: %v", k, mode, damage)
				}
			}
		}
	}
}

// outsideChunk keeps the frames that do not touch chunk c of segment no,
// and counts the others.
func outsideChunk(ws []written, no uint64, c int64) ([]written, int) {
	var out []written
	for _, w := range ws {
		if w.pos.Seg != no || w.pos.Off >= (c+1)*readChunk || w.pos.Off+int64(w.h.Size()) <= c*readChunk {
			out = append(out, w)
		}
	}
	return out, len(ws) - len(out)
}

func TestRecoverFailsOnlyOnAnUnlistableDirectory(t *testing.T) {
	mem := vfs.NewMem()
	fillLog(t, mem, 1, 5)
	ffs := vfs.NewFaultFS(mem)
	ffs.FailIf(func(op vfs.Op, _ string) bool { return op == vfs.OpReadDir })
	l := NewLog(ffs, testDir, testSegBytes)
	if _, err := l.Recover(func(Pos, FrameHeader, []byte) (uint16, int, bool) { return 0, 0, false }, true); !errors.Is(err, errEIO) {
		t.Fatalf("Recover of an unlistable directory: %v", err)
	}
	if len(l.Segs) != 0 {
		t.Fatal("a failed Recover indexed segments")
	}
}

func TestRecoverReadOnlyFS(t *testing.T) {
	mem := vfs.NewMem()
	ws, bad := middleDamage(t, mem)
	b := readFile(t, mem, segPath(3))
	writeFile(t, mem, segPath(3), append(b, 0, 0, 0))
	l, seen, damage := recoverLog(t, vfs.ReadOnly(mem), false)
	if len(damage) != 3 || hasErr(damage, ErrNotRepaired) {
		t.Fatalf("damage %+v", damage)
	}
	sameFrames(t, "visited", seen, without(ws, bad...), true)
	checkReads(t, l, seen, 3)
	if l.scan != nil {
		t.Error("recovery keeps its read buffer")
	}
}

// TestRecoverRandomDamage damages segments at random (flipped bytes, cut
// and zeroed ranges, garbage appended) and checks that recovery, read-only
// and repairing, never fails, visits only frames that were written, lets
// Next read every frame it visited, and leaves nothing to repair twice.
func TestRecoverRandomDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 150 {
		mem := vfs.NewMem()
		ws := fillLog(t, mem, 3, 30)
		for range 1 + rng.IntN(4) {
			no := uint64(1 + rng.IntN(3))
			b := readFile(t, mem, segPath(no))
			switch rng.IntN(4) {
			case 0:
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			case 1:
				b = b[:rng.IntN(len(b))]
			case 2:
				off := rng.IntN(len(b))
				clear(b[off:min(len(b), off+rng.IntN(300))])
			case 3:
				junk := make([]byte, rng.IntN(200))
				for i := range junk {
					junk[i] = byte(rng.IntN(256))
				}
				b = append(b, junk...)
			}
			writeFile(t, mem, segPath(no), b)
		}
		key := func(w written) string { return fmt.Sprintf("%d/%d", w.h.Sensor, w.h.FirstSeq) }
		known := map[string]FrameHeader{}
		for _, w := range ws {
			known[key(w)] = w.h
		}
		check := func(what string, l *Log, seen []written) {
			for _, w := range seen {
				if h, ok := known[key(w)]; !ok || h != w.h {
					t.Fatalf("iteration %d, %s: recovered a frame never written: %+v", iter, what, w.h)
				}
			}
			checkReads(t, l, seen, 3)
		}
		l, seenRO, _ := recoverLog(t, mem, false)
		check("read-only", l, seenRO)
		l, seen, _ := recoverLog(t, mem, true)
		check("repair", l, seen)
		sameFrames(t, fmt.Sprintf("iteration %d: repair against read-only", iter), seen, seenRO, false)
		l, seen2, damage := recoverLog(t, mem, true)
		if len(damage) != 0 {
			t.Fatalf("iteration %d: damage after a repair: %+v", iter, damage)
		}
		sameFrames(t, fmt.Sprintf("iteration %d: after the repair", iter), seen2, seen, true)
		checkIndex(t, mem, l)
	}
}
