package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzDecodeFrame checks that DecodeFrame and FrameRecords never panic and
// that a frame which decodes re-encodes to the same bytes. With fixCRC the
// input's checksum is recomputed first, so mutations reach past the CRC.
func FuzzDecodeFrame(f *testing.F) {
	_, tsd := tsdFrame(f, 3)
	_, evt, _ := evtFrame(f, 4)
	var sb Builder // a stepped TSD frame (version 2)
	sb.Reset(KindTSD, 3, 77, 1000)
	for i := 0; i < 4; i++ {
		sb.Add(uint64(1+i), uint32(i), 1_700_000_000_000+int64(i)*3)
	}
	f.Add(tsd, false)
	f.Add(evt, false)
	f.Add(evt, true)
	f.Add(AppendFrame(nil, sb.H, sb.Payload), false)
	f.Fuzz(func(t *testing.T, b []byte, fixCRC bool) {
		if fixCRC && len(b) >= FrameHeaderSize && len(b) >= FrameHeaderSize+int(binary.LittleEndian.Uint16(b[14:])) {
			b = refresh(bytes.Clone(b))
		}
		h, payload, err := DecodeFrame(b)
		if err != nil {
			return
		}
		if h.Size() > len(b) || len(payload) != int(h.Len) {
			t.Fatalf("frame of %d bytes from %d", h.Size(), len(b))
		}
		recs, rerr := FrameRecords(h, payload, make([]Record, 0, h.Count))
		if rerr == nil && len(recs) != int(h.Count) {
			t.Fatalf("%d records, header says %d", len(recs), h.Count)
		}
		if h.Kind == KindTSD && rerr != nil {
			t.Fatalf("TSD frame decodes but its records do not: %v", rerr)
		}
		if b[7] != 0 {
			return // TestFrameReservedByteRoundTrip
		}
		if re := AppendFrame(nil, h, payload); !bytes.Equal(re, b[:h.Size()]) {
			t.Fatalf("re-encoded frame differs:\n% x\n% x", re, b[:h.Size()])
		}
	})
}

func FuzzParseSegmentHeader(f *testing.F) {
	f.Add(AppendSegmentHeader(nil, 1))
	f.Add(AppendSegmentHeader(nil, 1<<40))
	f.Fuzz(func(t *testing.T, b []byte) {
		no, err := ParseSegmentHeader(b)
		if err != nil {
			if len(b) >= SegmentHeaderSize && !errors.Is(err, ErrMagic) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		re := AppendSegmentHeader(nil, no)
		if !bytes.Equal(re[:5], b[:5]) || !bytes.Equal(re[8:], b[8:16]) {
			t.Fatalf("header %d re-encodes to % x from % x", no, re, b[:16])
		}
	})
}

// FuzzDecodeCheckpoint checks DecodeCheckpoint never panics and that a
// decoded checkpoint re-encodes to one that decodes the same. With fix the
// length and CRC fields are recomputed first.
func FuzzDecodeCheckpoint(f *testing.F) {
	c := sampleCheckpoint(f)
	f.Add(AppendCheckpoint(nil, &c), false)
	f.Add(AppendCheckpoint(nil, &Checkpoint{Gen: 1}), false)
	f.Add(AppendCheckpoint(nil, &Checkpoint{Gen: 3, Streams: c.Streams[:1]}), true)
	f.Fuzz(func(t *testing.T, b []byte, fix bool) {
		if fix && len(b) >= checkpointHeaderSize {
			b = refreshCP(bytes.Clone(b))
		}
		c, err := DecodeCheckpoint(b)
		if err != nil {
			return
		}
		for off := 0; off < len(c.Frames); {
			h, p, err := DecodeFrame(c.Frames[off:])
			if err != nil {
				t.Fatalf("frame at %d accepted by DecodeCheckpoint: %v", off, err)
			}
			if _, err := FrameRecords(h, p, nil); err != nil {
				t.Fatalf("frame at %d of an accepted checkpoint does not decode: %v", off, err)
			}
			off += h.Size()
		}
		re := AppendCheckpoint(nil, &c)
		c2, err := DecodeCheckpoint(re)
		if err != nil {
			t.Fatalf("re-encoded checkpoint: %v", err)
		}
		if c2.Gen != c.Gen || c2.Clean != c.Clean || len(c2.Streams) != len(c.Streams) || !bytes.Equal(c2.Frames, c.Frames) {
			t.Fatalf("re-encoded checkpoint decodes differently")
		}
		for i := range c.Streams {
			if c.Streams[i] != c2.Streams[i] {
				t.Fatalf("stream %d: %+v != %+v", i, c2.Streams[i], c.Streams[i])
			}
		}
	})
}
