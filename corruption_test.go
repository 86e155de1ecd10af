package mm2_test

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"sort"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/spool"
	"github.com/mm2go/mm2/vfs"
)

var (
	corruptA = mm2.StreamID{Source: mm2.CAN, Sensor: 7}
	corruptB = mm2.StreamID{Source: mm2.Gateway, Sensor: 2}
)

// corruptValue is what is written for seq of a stream, so any delivered
// record can be checked.
func corruptValue(id mm2.StreamID, seq uint64) uint32 {
	return uint32(seq)*2654435761 + id.Sensor*7919
}

// storeFrame is one frame found in a segment of the written store.
type storeFrame struct {
	off int64
	h   spool.FrameHeader
}

// storeImage is what the closed store holds before it is damaged.
type storeImage struct {
	fs      vfs.FS
	segs    []uint64 // segment numbers, ascending
	frames  map[uint64][]storeFrame
	cp      spool.Checkpoint        // the newest checkpoint
	cpSlot  string                  // and its slot file
	written map[mm2.StreamID]uint64 // last seq written
}

func (im *storeImage) segPath(no uint64) string { return path.Join("store", spool.SegmentName(no)) }

func (im *storeImage) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := vfs.ReadFile(im.fs, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (im *storeImage) write(t *testing.T, name string, b []byte) {
	t.Helper()
	f, err := im.fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// streamOf names the stream of a frame header.
func streamOf(h spool.FrameHeader) mm2.StreamID {
	return mm2.StreamID{Source: mm2.Source(h.Source), Sensor: h.Sensor}
}

// middle is a frame in the middle of the second segment.
func (im *storeImage) middle(t *testing.T) (uint64, storeFrame) {
	no := im.segs[1]
	fr := im.frames[no]
	if len(fr) < 3 {
		t.Fatalf("segment %d holds %d frames", no, len(fr))
	}
	return no, fr[1]
}

// last is the last frame of the last segment.
func (im *storeImage) last() (uint64, storeFrame) {
	no := im.segs[len(im.segs)-1]
	fr := im.frames[no]
	return no, fr[len(fr)-1]
}

// writeCorruptStore writes two TSD streams over several segments and closes.
func writeCorruptStore(t *testing.T, clk *testClock) *storeImage {
	t.Helper()
	fsys := vfs.NewMem()
	m := openStore(t, diskOpts(clk), fsys)
	im := &storeImage{fs: fsys, frames: map[uint64][]storeFrame{}, written: map[mm2.StreamID]uint64{}}
	sa, err := m.Configure(corruptA, mm2.TSD, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := m.Configure(corruptB, mm2.TSD, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 1200; i++ {
		if err := sa.WriteTSD(corruptValue(corruptA, i)); err != nil {
			t.Fatalf("write A %d: %v", i, err)
		}
		if i%3 != 0 {
			continue
		}
		im.written[corruptB]++
		if err := sb.WriteTSD(corruptValue(corruptB, im.written[corruptB])); err != nil {
			t.Fatalf("write B: %v", err)
		}
	}
	im.written[corruptA] = 1200
	if d := m.Stats().Drops; d.Total() != 0 {
		t.Fatalf("drops while writing: %+v", d)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := fsys.ReadDir("store")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if no, ok := spool.ParseSegmentName(e.Name()); ok {
			im.segs = append(im.segs, no)
		}
	}
	sort.Slice(im.segs, func(i, j int) bool { return im.segs[i] < im.segs[j] })
	if len(im.segs) < 4 {
		t.Fatalf("only %d segments", len(im.segs))
	}
	for _, no := range im.segs {
		b := im.read(t, im.segPath(no))
		for off := int64(spool.SegmentHeaderSize); off < int64(len(b)); {
			h, _, err := spool.DecodeFrame(b[off:])
			if err != nil {
				t.Fatalf("segment %d offset %d of the undamaged store: %v", no, off, err)
			}
			im.frames[no] = append(im.frames[no], storeFrame{off, h})
			off += int64(h.Size())
		}
	}
	for _, slot := range spool.CheckpointNames {
		cp, err := spool.DecodeCheckpoint(im.read(t, path.Join("store", slot)))
		if err != nil {
			t.Fatal(err)
		}
		if cp.Gen >= im.cp.Gen {
			im.cp, im.cpSlot = cp, slot
		}
	}
	return im
}

// seqSet is a set of sequence numbers per stream.
type seqSet map[mm2.StreamID]map[uint64]bool

func (s seqSet) addFrame(h spool.FrameHeader) {
	id := streamOf(h)
	if s[id] == nil {
		s[id] = map[uint64]bool{}
	}
	for q := h.FirstSeq; q <= h.LastSeq(); q++ {
		s[id][q] = true
	}
}

func (s seqSet) count() (n uint64) {
	for _, m := range s {
		n += uint64(len(m))
	}
	return n
}

type corruptCase struct {
	name string
	// corrupt damages the store and returns the records it destroys
	// (nil: none) and the files that must be found under corrupted/.
	corrupt func(t *testing.T, im *storeImage) (lost seqSet, quarantined []string)
	// skipped is the expected Stats().RecordsSkipped, -1 for "not checked".
	skipped int64
	// damage says Damage() must list something.
	damage bool
	// ackedBeyond: stream A's checkpoint claims this much above the data.
	ackedBeyond uint64
}

func flipAt(off func(im *storeImage, fr storeFrame) int64) func(t *testing.T, im *storeImage) (seqSet, []string) {
	return func(t *testing.T, im *storeImage) (seqSet, []string) {
		no, fr := im.middle(t)
		name := im.segPath(no)
		b := im.read(t, name)
		b[off(im, fr)] ^= 0x04
		im.write(t, name, b)
		lost := seqSet{}
		lost.addFrame(fr.h)
		return lost, []string{spool.SegmentName(no)}
	}
}

func corruptCases() []corruptCase {
	return []corruptCase{
		{name: "bit flip in frame header", skipped: -2, damage: true,
			corrupt: flipAt(func(_ *storeImage, fr storeFrame) int64 { return fr.off + 25 })}, // FirstTS
		{name: "bit flip in payload", skipped: -2, damage: true,
			corrupt: flipAt(func(_ *storeImage, fr storeFrame) int64 { return fr.off + spool.FrameHeaderSize + int64(fr.h.Len)/2 })},
		{name: "bit flip in CRC", skipped: -2, damage: true,
			corrupt: flipAt(func(_ *storeImage, fr storeFrame) int64 { return fr.off + 45 })},
		{name: "truncated frame at end", skipped: 0, damage: true,
			corrupt: func(t *testing.T, im *storeImage) (seqSet, []string) {
				no, fr := im.last()
				b := im.read(t, im.segPath(no))
				im.write(t, im.segPath(no), b[:fr.off+int64(fr.h.Size())-7])
				lost := seqSet{}
				lost.addFrame(fr.h)
				return lost, nil
			}},
		{name: "zeroed tail", skipped: 0, damage: true,
			corrupt: func(t *testing.T, im *storeImage) (seqSet, []string) {
				no, fr := im.last()
				b := im.read(t, im.segPath(no))
				clear(b[fr.off:])
				im.write(t, im.segPath(no), append(b, make([]byte, 512)...))
				lost := seqSet{}
				lost.addFrame(fr.h)
				return lost, nil
			}},
		{name: "garbage tail", skipped: 0, damage: true,
			corrupt: func(t *testing.T, im *storeImage) (seqSet, []string) {
				no, _ := im.last()
				b := im.read(t, im.segPath(no))
				x := uint32(12345)
				for i := 0; i < 700; i++ {
					x = x*1103515245 + 12345
					b = append(b, byte(x>>16))
				}
				b = append(b, "MM2F"...)
				im.write(t, im.segPath(no), b)
				return nil, nil
			}},
		{name: "wrong segment magic", skipped: 0, damage: true,
			corrupt: func(t *testing.T, im *storeImage) (seqSet, []string) {
				no := im.segs[1]
				b := im.read(t, im.segPath(no))
				b[0] ^= 0xff
				im.write(t, im.segPath(no), b)
				return nil, []string{spool.SegmentName(no)}
			}},
		{name: "unknown segment version", skipped: 0, damage: true,
			corrupt: func(t *testing.T, im *storeImage) (seqSet, []string) {
				no := im.segs[1]
				b := im.read(t, im.segPath(no))
				b[4] = spool.Version + 1
				im.write(t, im.segPath(no), b)
				return nil, []string{spool.SegmentName(no)}
			}},
		{name: "duplicated segment", skipped: 0, damage: true,
			corrupt: func(t *testing.T, im *storeImage) (seqSet, []string) {
				next := im.segs[len(im.segs)-1] + 1
				im.write(t, im.segPath(next), im.read(t, im.segPath(im.segs[1])))
				return nil, []string{spool.SegmentName(next)}
			}},
		{name: "missing segment", skipped: 0, damage: false,
			corrupt: func(t *testing.T, im *storeImage) (seqSet, []string) {
				no := im.segs[1]
				if err := im.fs.Remove(im.segPath(no)); err != nil {
					t.Fatal(err)
				}
				lost := seqSet{}
				for _, fr := range im.frames[no] {
					lost.addFrame(fr.h)
				}
				return lost, nil
			}},
		{name: "damaged checkpoint", skipped: 0, damage: true,
			corrupt: func(t *testing.T, im *storeImage) (seqSet, []string) {
				// Both slots: the newest and the previous checkpoint.
				for _, slot := range spool.CheckpointNames {
					name := path.Join("store", slot)
					b := im.read(t, name)
					b[len(b)/2] ^= 0x01
					im.write(t, name, b)
				}
				// The RAM tier lived only in the checkpoint.
				lost := seqSet{}
				for off := 0; off < len(im.cp.Frames); {
					h, _, err := spool.DecodeFrame(im.cp.Frames[off:])
					if err != nil {
						t.Fatal(err)
					}
					lost.addFrame(h)
					off += h.Size()
				}
				if lost.count() == 0 {
					t.Fatal("checkpoint holds no RAM records: the case tests nothing")
				}
				return lost, spool.CheckpointNames[:]
			}},
		{name: "checkpoint acked beyond the data", skipped: 0, damage: false, ackedBeyond: 100,
			corrupt: func(t *testing.T, im *storeImage) (seqSet, []string) {
				cp := im.cp
				cp.Streams = append([]spool.StreamState(nil), cp.Streams...)
				found := false
				for i := range cp.Streams {
					s := &cp.Streams[i]
					if s.Source == uint8(corruptA.Source) && s.Sensor == corruptA.Sensor {
						q := im.written[corruptA] + 100
						s.Acked, s.LastSeq, s.Reserved = q, q, q
						found = true
					}
				}
				if !found {
					t.Fatal("stream A not in the checkpoint")
				}
				cp.Gen++ // newer than both slots, so recovery takes it
				im.write(t, path.Join("store", im.cpSlot), spool.AppendCheckpoint(nil, &cp))
				// Everything of A counts as acknowledged: none of it may come back.
				lost := seqSet{corruptA: {}}
				for q := uint64(1); q <= im.written[corruptA]; q++ {
					lost[corruptA][q] = true
				}
				return lost, nil
			}},
	}
}

func TestOpenRecoversFromCorruption(t *testing.T) {
	for _, c := range corruptCases() {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock(100)
			im := writeCorruptStore(t, clk)
			lost, quarantined := c.corrupt(t, im)
			if lost == nil {
				lost = seqSet{}
			}
			skipped := c.skipped
			if skipped == -2 { // a whole damaged frame whose header still names it
				skipped = int64(lost.count())
			}

			m := mustOpen(t, diskOpts(clk), im.fs)
			st := m.Stats()
			dmg := m.Damage()
			t.Logf("skipped %d records, %d frames; damage %v", st.RecordsSkipped, st.FramesSkipped, dmg)
			if skipped >= 0 && st.RecordsSkipped != uint64(skipped) {
				t.Errorf("RecordsSkipped %d, want %d", st.RecordsSkipped, skipped)
			}
			if skipped > 0 && (st.Drops.Corrupt == 0 || st.Drops.Corrupt > uint64(skipped)) {
				t.Errorf("Drops.Corrupt %d for %d skipped records", st.Drops.Corrupt, skipped)
			}
			if skipped > 0 && st.FramesSkipped != 1 {
				t.Errorf("FramesSkipped %d, want 1", st.FramesSkipped)
			}
			if c.damage && len(dmg) == 0 {
				t.Errorf("Damage() lists nothing")
			}
			if !c.damage && len(dmg) != 0 {
				t.Errorf("Damage() lists %v", dmg)
			}
			for _, e := range dmg {
				var ce *mm2.CorruptionError
				if !errors.As(e, &ce) {
					t.Errorf("damage %v is not a CorruptionError", e)
				}
			}
			for _, name := range quarantined {
				b, err := vfs.ReadFile(im.fs, path.Join("store", spool.CorruptDir, name))
				if err != nil {
					t.Errorf("no copy of %s under %s/: %v", name, spool.CorruptDir, err)
				} else if len(b) == 0 {
					t.Errorf("empty copy of %s", name)
				}
			}
			if len(quarantined) == 0 {
				if ents, err := im.fs.ReadDir(path.Join("store", spool.CorruptDir)); err == nil && len(ents) > 0 {
					t.Errorf("%s/ holds %d files for damage that is only a tail", spool.CorruptDir, len(ents))
				}
			}

			for _, id := range []mm2.StreamID{corruptA, corruptB} {
				got := drainID(t, m, id, drainHow{check: m})
				var prev uint64
				delivered := map[uint64]bool{}
				for _, smp := range got {
					if smp.Seq <= prev {
						t.Fatalf("%v: seq %d after %d", id, smp.Seq, prev)
					}
					prev = smp.Seq
					if smp.Seq > im.written[id] {
						t.Fatalf("%v: seq %d never written (last %d)", id, smp.Seq, im.written[id])
					}
					if smp.Value != corruptValue(id, smp.Seq) {
						t.Fatalf("%v: seq %d value %#x, want %#x", id, smp.Seq, smp.Value, corruptValue(id, smp.Seq))
					}
					delivered[smp.Seq] = true
				}
				var missing, unexpected []uint64
				for q := uint64(1); q <= im.written[id]; q++ {
					if !delivered[q] && !lost[id][q] {
						missing = append(missing, q)
					}
					if delivered[q] && lost[id][q] {
						unexpected = append(unexpected, q)
					}
				}
				if len(missing) > 0 || len(unexpected) > 0 {
					t.Errorf("%v: %d records lost beyond the damage %s, %d damaged records delivered %s",
						id, len(missing), ranges(missing), len(unexpected), ranges(unexpected))
				}
				// Numbering goes on above everything written or claimed.
				s, err := m.Stream(id)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.WriteTSD(1); err != nil {
					t.Fatalf("%v: write after recovery: %v", id, err)
				}
				floor := im.written[id]
				if id == corruptA {
					floor += c.ackedBeyond
				}
				if w := s.Stats().Written; w <= floor {
					t.Errorf("%v: new record numbered %d, not above %d", id, w, floor)
				}
			}
			if err := m.Check(); err != nil {
				t.Fatalf("Check after reading: %v", err)
			}
		})
	}
}

// ranges prints sorted numbers as runs.
func ranges(q []uint64) string {
	var b bytes.Buffer
	for i := 0; i < len(q); {
		j := i
		for j+1 < len(q) && q[j+1] == q[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(",")
		}
		if b.Len() > 200 {
			b.WriteString("...")
			break
		}
		fmt.Fprintf(&b, "%d-%d", q[i], q[j])
		i = j + 1
	}
	return b.String()
}
