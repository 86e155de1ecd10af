package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"
)

// tsdFrame builds a TSD frame of n records from seq 10 through Builder.
func tsdFrame(t testing.TB, n int) (FrameHeader, []byte) {
	t.Helper()
	var b Builder
	b.Reset(KindTSD, 3, 77, 100)
	for i := 0; i < n; i++ {
		if !b.Add(uint64(10+i), uint32(i*7+1), 1_700_000_000_000+int64(i)*100) {
			t.Fatalf("Add %d refused", i)
		}
	}
	return b.H, AppendFrame(nil, b.H, b.Payload)
}

// evtFrame builds an EVT frame of n records from seq 5 with irregular times.
func evtFrame(t testing.TB, n int) (FrameHeader, []byte, []Record) {
	t.Helper()
	var b Builder
	b.Reset(KindEVT, 1, 9, 0)
	var want []Record
	ts := int64(1_700_000_000_000)
	for i := 0; i < n; i++ {
		ts += int64(i*i*13) - 40 // deltas of both signs
		if !b.Add(uint64(5+i), uint32(0xfffffff0+i), ts) {
			t.Fatalf("Add %d refused", i)
		}
		want = append(want, Record{uint32(0xfffffff0 + i), ts})
	}
	return b.H, AppendFrame(nil, b.H, b.Payload), want
}

func TestFrameRoundTripTSD(t *testing.T) {
	h, frame := tsdFrame(t, 50)
	if len(frame) != FrameHeaderSize+200 || h.Size() != len(frame) {
		t.Fatalf("frame size %d, header says %d", len(frame), h.Size())
	}
	got, payload, err := DecodeFrame(append(frame, 0xAA, 0xBB)) // trailing bytes are not the frame's
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Fatalf("header %+v, want %+v", got, h)
	}
	if got.LastSeq() != 59 || got.LastTS != 1_700_000_000_000+49*100 {
		t.Fatalf("LastSeq %d LastTS %d", got.LastSeq(), got.LastTS)
	}
	recs, err := FrameRecords(got, payload, make([]Record, 0, got.Count))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Value != uint32(i*7+1) || r.UTC != 1_700_000_000_000+int64(i)*100 {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if re := AppendFrame(nil, got, payload); !bytes.Equal(re, frame) {
		t.Fatal("re-encoded frame differs")
	}
}

func TestFrameRoundTripEVT(t *testing.T) {
	h, frame, want := evtFrame(t, 40)
	got, payload, err := DecodeFrame(frame)
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Fatalf("header %+v, want %+v", got, h)
	}
	recs, err := FrameRecords(got, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("records %v, want %v", recs, want)
	}
	if re := AppendFrame(nil, got, payload); !bytes.Equal(re, frame) {
		t.Fatal("re-encoded frame differs")
	}
}

func TestBuilderLimits(t *testing.T) {
	var b Builder
	b.Reset(KindTSD, 1, 1, 100)
	n := 0
	for b.Add(uint64(1+n), 1, int64(n)*100) {
		n++
	}
	if n != MaxFramePayload/4 {
		t.Fatalf("TSD frame took %d records, want %d", n, MaxFramePayload/4)
	}
	b.Reset(KindTSD, 1, 1, 100)
	b.Add(1, 1, 1000)
	if b.Add(3, 1, 1100) {
		t.Fatal("sequence gap accepted")
	}
	if b.Add(2, 1, 1300) {
		t.Fatal("time two periods off the slot accepted")
	}
	if !b.Add(2, 1, 1140) || b.H.LastTS != 1100 {
		t.Fatalf("time within half a period not snapped to the slot: %+v", b.H)
	}
}

// refresh recomputes a frame's CRC after a header edit.
func refresh(b []byte) []byte {
	n := FrameHeaderSize + int(binary.LittleEndian.Uint16(b[14:]))
	crc := crc32.Update(crc32.Checksum(b[:44], castagnoli), castagnoli, b[FrameHeaderSize:n])
	binary.LittleEndian.PutUint32(b[44:], crc)
	return b
}

func TestDecodeFrameRejects(t *testing.T) {
	_, frame := tsdFrame(t, 8)
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(frame)
		f(b)
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short header", frame[:FrameHeaderSize-1], ErrShort},
		{"short payload", frame[:len(frame)-1], ErrShort},
		{"bad magic", edit(func(b []byte) { b[0] ^= 1 }), ErrMagic},
		{"unknown version", refresh(edit(func(b []byte) { b[4] = StepVersion + 1 })), ErrVersion},
		{"version zero", refresh(edit(func(b []byte) { b[4] = 0 })), ErrVersion},
		{"bad CRC field", edit(func(b []byte) { b[44] ^= 0x80 }), ErrChecksum},
		{"payload bit flip", edit(func(b []byte) { b[FrameHeaderSize+3] ^= 0x10 }), ErrChecksum},
		{"header bit flip", edit(func(b []byte) { b[20] ^= 0x01 }), ErrChecksum},
		{"unknown kind", refresh(edit(func(b []byte) { b[5] = 3 })), ErrFormat},
		{"count zero", refresh(edit(func(b []byte) { b[12], b[13] = 0, 0 })), ErrFormat},
		{"seq zero", refresh(edit(func(b []byte) { clear(b[16:24]) })), ErrFormat},
		{"seq overflow", refresh(edit(func(b []byte) { binary.LittleEndian.PutUint64(b[16:], ^uint64(0)-2) })), ErrFormat},
		{"TSD period zero", refresh(edit(func(b []byte) { clear(b[40:44]) })), ErrFormat},
		{"TSD len mismatch", refresh(edit(func(b []byte) { b[12] = 7 })), ErrFormat},
		{"len too big", edit(func(b []byte) { binary.LittleEndian.PutUint16(b[14:], MaxFramePayload+1) }), ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := DecodeFrame(c.b); !errors.Is(err, c.want) {
				t.Fatalf("DecodeFrame: %v, want %v", err, c.want)
			}
		})
	}
}

func TestFrameRecordsRejectsBadEVTPayload(t *testing.T) {
	h, frame, _ := evtFrame(t, 5)
	_, payload, err := DecodeFrame(frame)
	if err != nil {
		t.Fatal(err)
	}
	// A frame's header promising more records than its payload holds.
	h2 := h
	h2.Count++
	if _, err := FrameRecords(h2, payload, nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("extra count: %v", err)
	}
	h3 := h
	h3.LastTS++
	if _, err := FrameRecords(h3, payload, nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("wrong LastTS: %v", err)
	}
	if _, err := FrameRecords(h, payload[:len(payload)-1], nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("cut payload: %v", err)
	}
}

// The byte at offset 7 of a frame header is reserved and covered by the
// CRC: a frame with it set must be rejected, never decoded into a header
// that re-encodes to different bytes.
func TestFrameReservedByteRoundTrip(t *testing.T) {
	_, frame := tsdFrame(t, 4)
	b := bytes.Clone(frame)
	b[7] = 1
	refresh(b)
	h, payload, err := DecodeFrame(b)
	if err != nil {
		return // rejected: consistent
	}
	if re := AppendFrame(nil, h, payload); !bytes.Equal(re, b) {
		t.Fatal("a frame with its reserved byte set decoded, and re-encodes differently")
	}
}

func TestSegmentHeaderRoundTrip(t *testing.T) {
	for _, no := range []uint64{1, 2, 0xdeadbeef, ^uint64(0)} {
		b := AppendSegmentHeader([]byte{0xEE}, no)[1:]
		if len(b) != SegmentHeaderSize {
			t.Fatalf("header size %d", len(b))
		}
		got, err := ParseSegmentHeader(b)
		if err != nil || got != no {
			t.Fatalf("ParseSegmentHeader: %d, %v; want %d", got, err, no)
		}
	}
	h := AppendSegmentHeader(nil, 5)
	edit := func(f func(b []byte)) []byte { b := bytes.Clone(h); f(b); return b }
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short", h[:SegmentHeaderSize-1], ErrShort},
		{"bad magic", edit(func(b []byte) { b[3] ^= 0x40 }), ErrMagic},
		{"frame magic", edit(func(b []byte) { binary.LittleEndian.PutUint32(b, FrameMagic) }), ErrMagic},
		{"unknown version", edit(func(b []byte) { b[4] = 2 }), ErrVersion},
	} {
		if _, err := ParseSegmentHeader(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSegmentNames(t *testing.T) {
	if n := SegmentName(42); n != "seg-0000000000000042.mm2" {
		t.Fatalf("SegmentName: %q", n)
	}
	for name, want := range map[string]uint64{"seg-0000000000000042.mm2": 42, "seg-1.mm2": 1} {
		if no, ok := ParseSegmentName(name); !ok || no != want {
			t.Errorf("ParseSegmentName(%q) = %d, %v", name, no, ok)
		}
	}
	for _, name := range []string{"seg-0000000000000000.mm2", "state.mm2", "seg-x.mm2", "seg-0000000000000001.mm2.tmp", "seg-.mm2"} {
		if _, ok := ParseSegmentName(name); ok {
			t.Errorf("ParseSegmentName(%q) accepted", name)
		}
	}
}

func sampleCheckpoint(t testing.TB) Checkpoint {
	_, f1 := tsdFrame(t, 3)
	_, f2, _ := evtFrame(t, 2)
	return Checkpoint{
		Gen: 7, Clean: true,
		Streams: []StreamState{
			{Source: 3, Kind: KindTSD, Sensor: 77, Period: 100, Acked: 9, LastSeq: 12, Reserved: 12 + 1<<20},
			{Source: 1, Kind: KindEVT, Sensor: 9, Acked: 4, LastSeq: 6, Reserved: 6},
		},
		Frames: append(f1, f2...),
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	for _, c := range []Checkpoint{sampleCheckpoint(t), {Gen: 1}, {Gen: 2, Streams: []StreamState{{Kind: KindTSD, Period: 1}}}} {
		b := AppendCheckpoint(nil, &c)
		got, err := DecodeCheckpoint(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Frames) == 0 {
			c.Frames = []byte{}
		}
		if len(c.Streams) == 0 {
			c.Streams = []StreamState{}
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("got %+v, want %+v", got, c)
		}
		if re := AppendCheckpoint(nil, &got); !bytes.Equal(re, b) {
			t.Fatal("re-encoded checkpoint differs")
		}
	}
}

// refreshCP recomputes a checkpoint's length and CRC after an edit.
func refreshCP(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[16:], uint32(len(b)-checkpointHeaderSize))
	crc := crc32.Update(crc32.Checksum(b[:20], castagnoli), castagnoli, b[checkpointHeaderSize:])
	binary.LittleEndian.PutUint32(b[20:], crc)
	return b
}

func TestDecodeCheckpointRejects(t *testing.T) {
	c := sampleCheckpoint(t)
	good := AppendCheckpoint(nil, &c)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	streams := checkpointHeaderSize + 4
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"header only", good[:checkpointHeaderSize], ErrShort},
		{"truncated", good[:len(good)-1], ErrShort},
		{"trailing byte", append(bytes.Clone(good), 0), ErrShort},
		{"bad magic", edit(func(b []byte) []byte { b[0]++; return b }), ErrMagic},
		{"unknown version", edit(func(b []byte) []byte { b[4] = 9; return refreshCP(b) }), ErrVersion},
		{"bad CRC", edit(func(b []byte) []byte { b[21] ^= 1; return b }), ErrChecksum},
		{"payload flip", edit(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrChecksum},
		{"gen flip", edit(func(b []byte) []byte { b[8] ^= 1; return b }), ErrChecksum},
		{"too many streams", edit(func(b []byte) []byte { b[checkpointHeaderSize] = 200; return refreshCP(b) }), ErrFormat},
		{"acked beyond last", edit(func(b []byte) []byte { b[streams+16] = 13; return refreshCP(b) }), ErrFormat},
		{"last beyond reserved", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[streams+40+24:], 7)
			return refreshCP(b)
		}), ErrFormat},
		{"unknown kind", edit(func(b []byte) []byte { b[streams+1] = 0; return refreshCP(b) }), ErrFormat},
		{"frame damaged", edit(func(b []byte) []byte { b[len(b)-3] ^= 1; return refreshCP(b) }), ErrChecksum},
		{"frame cut", edit(func(b []byte) []byte { return refreshCP(b[:len(b)-1]) }), ErrShort},
	} {
		if _, err := DecodeCheckpoint(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestFrameStepTSD: a TSD frame whose second record comes early takes the
// interval as its step, is written as StepVersion with last_ts giving the
// step, and decodes to the same times; a version-1 frame keeps its period
// whatever its last_ts says; a stepped header that does not divide is
// malformed.
func TestFrameStepTSD(t *testing.T) {
	const t0, period = 1_700_000_000_000, 1000
	for _, c := range []struct {
		name  string
		delta int64
		step  int64
	}{{"same ms", 0, 0}, {"1 ms apart", 1, 1}, {"499 ms apart", 499, 499}} {
		t.Run(c.name, func(t *testing.T) {
			var b Builder
			b.Reset(KindTSD, 3, 77, period)
			for i := 0; i < 256; i++ {
				utc := t0 + int64(i)*c.delta
				if !b.Add(uint64(1+i), uint32(i), utc) {
					t.Fatalf("Add %d refused", i)
				}
			}
			if b.Add(257, 0, t0+256*c.delta) {
				t.Fatal("a 257th record fit")
			}
			frame := AppendFrame(nil, b.H, b.Payload)
			if frame[4] != StepVersion {
				t.Fatalf("version %d, want %d", frame[4], StepVersion)
			}
			h, payload, err := DecodeFrame(frame)
			if err != nil || h != b.H || h.Step != c.step {
				t.Fatalf("decoded %+v, %v; built %+v", h, err, b.H)
			}
			recs, err := FrameRecords(h, payload, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				if r.Value != uint32(i) || r.UTC != t0+int64(i)*c.step {
					t.Fatalf("record %d: %+v", i, r)
				}
			}
			var re Builder // exact re-encoding keeps the times
			re.Reset(KindTSD, 3, 77, period)
			for i, r := range recs {
				if !re.AddExact(uint64(1+i), r.Value, r.UTC) {
					t.Fatalf("AddExact %d refused", i)
				}
			}
			if !bytes.Equal(AppendFrame(nil, re.H, re.Payload), frame) {
				t.Fatal("exact re-encoding differs")
			}
		})
	}
	t.Run("periodic frames stay version 1", func(t *testing.T) {
		_, frame := tsdFrame(t, 5)
		if frame[4] != Version {
			t.Fatalf("version %d", frame[4])
		}
		// A version-1 frame is read with its period, whatever last_ts says.
		binary.LittleEndian.PutUint64(frame[32:], 42)
		h, payload, err := DecodeFrame(refresh(frame))
		if err != nil || h.Step != 100 {
			t.Fatalf("%+v %v", h, err)
		}
		recs, _ := FrameRecords(h, payload, nil)
		if recs[4].UTC != 1_700_000_000_000+400 {
			t.Fatalf("record 4 at %d", recs[4].UTC)
		}
	})
	t.Run("malformed stepped headers", func(t *testing.T) {
		var b Builder
		b.Reset(KindTSD, 3, 77, period)
		for i := 0; i < 4; i++ {
			b.Add(uint64(1+i), 0, t0+int64(i)*7)
		}
		for name, lastTS := range map[string]int64{
			"not a multiple": t0 + 3*7 + 1, "negative step": t0 - 3, "step of a period": t0 + 3*period,
		} {
			frame := AppendFrame(nil, b.H, b.Payload)
			binary.LittleEndian.PutUint64(frame[32:], uint64(lastTS))
			if _, _, err := DecodeFrame(refresh(frame)); !errors.Is(err, ErrFormat) {
				t.Errorf("%s: %v, want %v", name, err, ErrFormat)
			}
		}
		_, frame := tsdFrame(t, 1)
		frame[4] = StepVersion
		if _, _, err := DecodeFrame(refresh(frame)); !errors.Is(err, ErrFormat) {
			t.Errorf("a stepped frame of one record: %v, want %v", err, ErrFormat)
		}
	})
}

// TestCheckpointVersionFollowsStepFrames: a checkpoint is written as version
// 2 unless one of its frames is stepped, then as 3, which a build reading up
// to 2 refuses as newer; both decode here with their frames.
func TestCheckpointVersionFollowsStepFrames(t *testing.T) {
	var b Builder
	b.Reset(KindTSD, 3, 77, 1000)
	for i := 0; i < 6; i++ {
		b.Add(uint64(20+i), uint32(i), 1_700_000_000_000)
	}
	stepped := AppendFrame(nil, b.H, b.Payload)
	for _, c := range []struct {
		name          string
		stages, frame []byte
		want          byte
	}{
		{"periodic frames", nil, nil, 2},
		{"a stepped RAM frame", nil, stepped, 3},
		{"a stepped stage", stepped, nil, 3},
	} {
		cp := sampleCheckpoint(t)
		cp.Stages = c.stages
		cp.Frames = append(append([]byte(nil), cp.Frames...), c.frame...)
		enc := AppendCheckpoint(nil, &cp)
		if enc[4] != c.want {
			t.Errorf("%s: version %d, want %d", c.name, enc[4], c.want)
		}
		got, err := DecodeCheckpoint(enc)
		if err != nil || !bytes.Equal(got.Frames, cp.Frames) || !bytes.Equal(got.Stages, cp.Stages) {
			t.Errorf("%s: decoded %v", c.name, err)
		}
		if IsNewerVersion(enc) {
			t.Errorf("%s: this build calls its own checkpoint newer", c.name)
		}
	}
}
