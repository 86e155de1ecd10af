// Package spool is the disk tier: segment files of CRC-checked frames, each
// frame a run of consecutive records of one stream, and the checkpoint file
// that persists cursors and the RAM tier. The byte formats are documented in
// docs/format.md; this file is their only encoder and decoder.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Format constants.
const (
	FrameMagic   = 0x46324d4d // "MM2F" little-endian
	SegmentMagic = 0x53324d4d // "MM2S"
	Version      = 1
	// StepVersion is the version of a TSD frame whose samples do not follow
	// its period: their times are first_ts + i*step, the step derived from
	// last_ts (docs/format.md). A reader of version 1 only refuses such a
	// frame rather than misdating it; every other frame stays version 1.
	StepVersion = 2

	FrameHeaderSize   = 48
	SegmentHeaderSize = 16
	// MaxFramePayload bounds a frame: 1 KB holds 256 TSD samples or about
	// 150 events, enough that the 48-byte header costs under 0.2 bytes a
	// sample, small enough that a torn frame loses little.
	MaxFramePayload = 1024
)

// Kinds in a frame, the same numbers as mm2.Kind.
const (
	KindTSD = 1
	KindEVT = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of the decoders.
var (
	ErrShort    = errors.New("spool: truncated")
	ErrMagic    = errors.New("spool: bad magic")
	ErrVersion  = errors.New("spool: unknown version")
	ErrChecksum = errors.New("spool: checksum mismatch")
	ErrFormat   = errors.New("spool: malformed")
)

// FrameHeader describes one frame: a run of Count consecutive records of one
// stream with sequence numbers FirstSeq.. and times FirstTS..LastTS.
type FrameHeader struct {
	Kind     uint8
	Source   uint8
	Sensor   uint32
	Count    uint16
	Len      uint16 // payload bytes
	FirstSeq uint64
	FirstTS  int64
	LastTS   int64
	Period   uint32 // ms, TSD only
	// Step is the interval between the derived times of a TSD frame's
	// records: Period, or less when the frame's second record came more
	// than half a period early (then the frame is StepVersion). It is not
	// stored: a decoder derives it from LastTS.
	Step int64
}

// LastSeq is the sequence number of the frame's last record.
func (h FrameHeader) LastSeq() uint64 { return h.FirstSeq + uint64(h.Count) - 1 }

// Size is the frame's size on disk.
func (h FrameHeader) Size() int { return FrameHeaderSize + int(h.Len) }

// AppendFrame encodes a frame with its checksum onto dst.
func AppendFrame(dst []byte, h FrameHeader, payload []byte) []byte {
	h.Len = uint16(len(payload))
	start := len(dst)
	var b [FrameHeaderSize]byte
	binary.LittleEndian.PutUint32(b[0:], FrameMagic)
	b[4], b[5], b[6] = Version, h.Kind, h.Source
	if h.stepped() {
		b[4] = StepVersion
	}
	binary.LittleEndian.PutUint32(b[8:], h.Sensor)
	binary.LittleEndian.PutUint16(b[12:], h.Count)
	binary.LittleEndian.PutUint16(b[14:], h.Len)
	binary.LittleEndian.PutUint64(b[16:], h.FirstSeq)
	binary.LittleEndian.PutUint64(b[24:], uint64(h.FirstTS))
	binary.LittleEndian.PutUint64(b[32:], uint64(h.LastTS))
	binary.LittleEndian.PutUint32(b[40:], h.Period)
	dst = append(dst, b[:]...)
	dst = append(dst, payload...)
	crc := crc32.Update(crc32.Checksum(dst[start:start+44], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(dst[start+44:], crc)
	return dst
}

// stepped reports whether h is a TSD frame whose records do not follow its
// period.
func (h FrameHeader) stepped() bool {
	return h.Kind == KindTSD && h.Count > 1 && h.Step != int64(h.Period)
}

// ParseFrameHeader decodes a header without checking the payload's checksum.
func ParseFrameHeader(b []byte) (FrameHeader, error) {
	if len(b) < FrameHeaderSize {
		return FrameHeader{}, ErrShort
	}
	if binary.LittleEndian.Uint32(b) != FrameMagic {
		return FrameHeader{}, ErrMagic
	}
	if b[4] != Version && b[4] != StepVersion {
		return FrameHeader{}, fmt.Errorf("%w %d", ErrVersion, b[4])
	}
	if b[7] != 0 {
		return FrameHeader{}, fmt.Errorf("%w: reserved frame byte set", ErrFormat)
	}
	h := FrameHeader{
		Kind: b[5], Source: b[6],
		Sensor:   binary.LittleEndian.Uint32(b[8:]),
		Count:    binary.LittleEndian.Uint16(b[12:]),
		Len:      binary.LittleEndian.Uint16(b[14:]),
		FirstSeq: binary.LittleEndian.Uint64(b[16:]),
		FirstTS:  int64(binary.LittleEndian.Uint64(b[24:])),
		LastTS:   int64(binary.LittleEndian.Uint64(b[32:])),
		Period:   binary.LittleEndian.Uint32(b[40:]),
	}
	switch {
	case h.Kind != KindTSD && h.Kind != KindEVT, h.Count == 0, h.Len > MaxFramePayload,
		h.FirstSeq == 0, h.FirstSeq+uint64(h.Count) < h.FirstSeq:
		return FrameHeader{}, fmt.Errorf("%w frame header", ErrFormat)
	case h.Kind == KindTSD && (h.Period == 0 || int(h.Len) != 4*int(h.Count)):
		return FrameHeader{}, fmt.Errorf("%w TSD frame", ErrFormat)
	}
	h.Step = int64(h.Period)
	if b[4] == StepVersion {
		// last_ts - first_ts is (count-1)*step, |step| < 2^32 and count <=
		// 2^16, so the wrapping difference is the exact one.
		span, n := h.LastTS-h.FirstTS, int64(h.Count)-1
		if h.Kind != KindTSD || n == 0 || span < 0 || span%n != 0 || span/n >= int64(h.Period) {
			return FrameHeader{}, fmt.Errorf("%w stepped TSD frame", ErrFormat)
		}
		h.Step = span / n
	}
	return h, nil
}

// DecodeFrame checks a whole frame at the start of b and returns its header
// and payload (aliasing b).
func DecodeFrame(b []byte) (FrameHeader, []byte, error) {
	h, err := ParseFrameHeader(b)
	if err != nil {
		return h, nil, err
	}
	if len(b) < h.Size() {
		return h, nil, ErrShort
	}
	payload := b[FrameHeaderSize:h.Size()]
	crc := crc32.Update(crc32.Checksum(b[:44], castagnoli), castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(b[44:]) {
		return h, nil, ErrChecksum
	}
	return h, payload, nil
}

// Record is one decoded record of a frame.
type Record struct {
	Value uint32
	UTC   int64
}

// FrameRecords decodes the payload of a checked frame into dst (which must
// hold h.Count records) and returns it.
func FrameRecords(h FrameHeader, payload []byte, dst []Record) ([]Record, error) {
	dst = dst[:0]
	if h.Kind == KindTSD {
		for i := 0; i < int(h.Count); i++ {
			dst = append(dst, Record{binary.LittleEndian.Uint32(payload[4*i:]), h.FirstTS + int64(i)*h.Step})
		}
		return dst, nil
	}
	ts, off := h.FirstTS, 0
	for i := 0; i < int(h.Count); i++ {
		if off+5 > len(payload) {
			return dst, fmt.Errorf("%w EVT payload", ErrFormat)
		}
		v := binary.LittleEndian.Uint32(payload[off:])
		d, n := binary.Varint(payload[off+4:])
		if n <= 0 {
			return dst, fmt.Errorf("%w EVT delta", ErrFormat)
		}
		ts += d
		off += 4 + n
		dst = append(dst, Record{v, ts})
	}
	if off != len(payload) || ts != h.LastTS {
		return dst, fmt.Errorf("%w EVT frame end", ErrFormat)
	}
	return dst, nil
}

// Builder accumulates consecutive records of one stream into a frame payload.
type Builder struct {
	H       FrameHeader
	Payload []byte
	// fast: the stream runs faster than its period (the last frame ended
	// stepped, or with a record more than half a period early), so the
	// next frame's second record sets the step when it comes less than a
	// period after the first. A hint kept across Reset; it changes no
	// stored time.
	fast bool
}

// Mark is a builder state to rewind to.
type Mark struct {
	h   FrameHeader
	len int
}

// Mark returns the current state.
func (b *Builder) Mark() Mark { return Mark{b.H, len(b.Payload)} }

// Rewind undoes every Add since mk.
func (b *Builder) Rewind(mk Mark) {
	b.H = mk.h
	b.Payload = b.Payload[:mk.len]
}

// Reset starts an empty frame for the stream.
func (b *Builder) Reset(kind, source uint8, sensor uint32, period uint32) {
	b.H = FrameHeader{Kind: kind, Source: source, Sensor: sensor, Period: period, Step: int64(period)}
	b.Payload = b.Payload[:0]
}

// Add appends a record with sequence number seq. It reports false, adding
// nothing, when the record does not fit or does not continue the frame (a
// sequence gap, or a TSD time more than half a period off its derived slot;
// the slot is stored, as in a RAM sector). As in a RAM sector, a TSD frame's
// second record coming 0 <= δ < period/2 after the first sets the frame's
// step to δ, and so does one with δ < period when the stream runs faster
// than its period (the previous frame ended stepped or early).
func (b *Builder) Add(seq uint64, v uint32, utc int64) bool { return b.add(seq, v, utc, false) }

// AddExact is Add for records whose TSD timestamps are already derived: it
// continues the frame only when utc is exactly the next slot, so the
// timestamps survive re-encoding unchanged.
func (b *Builder) AddExact(seq uint64, v uint32, utc int64) bool { return b.add(seq, v, utc, true) }

func (b *Builder) add(seq uint64, v uint32, utc int64, exact bool) bool {
	h := &b.H
	if h.Count == 0 {
		if cap(b.Payload) < MaxFramePayload {
			b.Payload = make([]byte, 0, MaxFramePayload)
		}
		h.FirstSeq, h.FirstTS, h.LastTS = seq, utc, utc
	} else if seq != h.FirstSeq+uint64(h.Count) || h.Count == 0xffff {
		return false
	}
	if h.Kind == KindTSD {
		if len(b.Payload)+4 > MaxFramePayload {
			b.fast = h.Step != int64(h.Period)
			return false
		}
		if h.Count > 0 {
			// The derived slot is stored; the sample must be within half a
			// period of it, as in a RAM sector, or set the step.
			period := int64(h.Period)
			slot := h.FirstTS + int64(h.Count)*h.Step
			d, delta := utc-slot, utc-h.FirstTS
			canStep := h.Count == 1 && delta >= 0 && delta < period
			switch {
			case canStep && (2*delta < period || (b.fast && !exact)):
				h.Step = delta
			case 2*max(d, -d) <= period && (!exact || d == 0):
				utc = slot
			case canStep && exact:
				h.Step = delta
			default:
				b.fast = h.Step != period || 2*-d > period
				return false
			}
		}
		b.Payload = binary.LittleEndian.AppendUint32(b.Payload, v)
	} else {
		var tmp [4 + binary.MaxVarintLen64]byte
		binary.LittleEndian.PutUint32(tmp[:], v)
		n := 4 + binary.PutVarint(tmp[4:], utc-h.LastTS) // 0 for the first record
		if len(b.Payload)+n > MaxFramePayload {
			return false
		}
		b.Payload = append(b.Payload, tmp[:n]...)
	}
	h.Count++
	h.LastTS = utc
	h.Len = uint16(len(b.Payload))
	return true
}

// AppendSegmentHeader encodes the header of segment number no.
func AppendSegmentHeader(dst []byte, no uint64) []byte {
	var b [SegmentHeaderSize]byte
	binary.LittleEndian.PutUint32(b[0:], SegmentMagic)
	b[4] = Version
	binary.LittleEndian.PutUint64(b[8:], no)
	return append(dst, b[:]...)
}

// ParseSegmentHeader decodes a segment header and returns its number.
func ParseSegmentHeader(b []byte) (uint64, error) {
	if len(b) < SegmentHeaderSize {
		return 0, ErrShort
	}
	if binary.LittleEndian.Uint32(b) != SegmentMagic {
		return 0, ErrMagic
	}
	if b[4] != Version {
		return 0, fmt.Errorf("%w %d", ErrVersion, b[4])
	}
	return binary.LittleEndian.Uint64(b[8:]), nil
}
