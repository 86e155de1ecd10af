// Package layout holds the byte encodings of RAM sectors. They are pure
// functions over a sector's payload; the chain table (links, record counts)
// lives elsewhere and nothing of it is written here.
//
// Both kinds start with an 8-byte little-endian header word.
//
// TSD sector, derived timestamps t(i) = base + i*step:
//
//	+--------+--------+--------+-----+
//	| header | value0 | value1 | ... |   8 + 4*n bytes, 6 values in 32 bytes
//	| 8 B    | uint32 | uint32 |     |
//	+--------+--------+--------+-----+
//
// The header word w is one of three forms, told apart by its top 16 bits
// (hi) and by whether w fits in 48 signed bits:
//
//	periodic  w fits in 48 bits (hi is 0x0000 or 0xffff, bit 47's sign
//	          extension): base = w, step = the stream's period. The form
//	          of every sector until its second sample comes early.
//	stepped   hi in 1..0xfffd: base = the low 48 bits, sign-extended;
//	          step = hi - 1 ms (0..MaxTSDStep). Set when the second sample
//	          of a sector comes more than half a period early: the step is
//	          the interval it came after (0 for two samples in one ms).
//	wide      hi = 0xfffe: a base that does not fit in 48 bits (before
//	          March -2490 or after October 6429); the low 48 bits of the base are
//	          the low 48 bits of w, its top 16 bits the next 2 bytes, 2
//	          bytes of padding, then the values: 5 in 32 bytes.
//	          step = the period.
//
// A sample goes in the sector as value c when it is within tol/2 of the
// next derived slot base + c*step, or when c is 1, the sector periodic and
// the sample came 0 <= δ < period/2 after the base, with δ <= MaxTSDStep:
// then the sector becomes stepped with step δ, so t(1) is exact. Live writes
// pass tol = period: every derived time is within ±period/2 of its write
// whatever the step. Restoring derived times passes tol = 0 and gets
// them back exactly (a stepped sector's times are base + i*δ, which the
// same rule rebuilds).
//
// EVT sector, each record its own timestamp as a zig-zag varint delta from
// the base (so an event costs 5 to 7 bytes instead of 12, and a 32-byte sector
// holds 3 or 4 events, never fewer than 2):
//
//	+--------+--------+---------------+--------+---------------+-----+
//	| base   | value0 | delta0 varint | value1 | delta1 varint | ... |
//	| int64  | uint32 | (t0 - base)   | uint32 | (t1 - base)   |     |
//	+--------+--------+---------------+--------+---------------+-----+
package layout

import (
	"encoding/binary"
	"errors"
)

// HeaderSize is the base timestamp that starts every sector.
const HeaderSize = 8

// MaxEVTRecord is the largest EVT record: value plus a 10-byte varint.
const MaxEVTRecord = 4 + binary.MaxVarintLen64

// ErrCorrupt reports a sector whose bytes do not decode.
var ErrCorrupt = errors.New("layout: sector does not decode")

// Base is the base timestamp of an EVT sector (the header word). A TSD
// sector's base is TSDHeader's: its header word may also hold a step.
func Base(sec []byte) int64 { return int64(binary.LittleEndian.Uint64(sec)) }

// PutBase writes the base timestamp of a sector.
func PutBase(sec []byte, utc int64) { binary.LittleEndian.PutUint64(sec, uint64(utc)) }

// TSD header forms (see the package comment).
const (
	// MaxTSDStep is the largest step in ms a stepped TSD sector records.
	MaxTSDStep = 0xfffc
	stepBias   = 1      // hi of a stepped sector: step + stepBias
	wideMark   = 0xfffe // hi of a wide sector
	wideHeader = 12     // header bytes of a wide sector
	low48      = 1<<48 - 1
)

// TSDCap is how many TSD values fit in a sector of size bytes whose base
// fits in 48 bits (all but wide sectors, which hold one fewer).
func TSDCap(size int) int { return (size - HeaderSize) / 4 }

// TSDHeader decodes a TSD sector's header: its base timestamp, the step
// between its derived timestamps (period unless the sector is stepped) and
// the byte offset of its first value.
func TSDHeader(sec []byte, period int64) (base, step int64, off int) {
	w := int64(binary.LittleEndian.Uint64(sec))
	if lo := w << 16 >> 16; lo != w {
		hi := uint64(w) >> 48
		if hi != wideMark {
			return lo, int64(hi) - stepBias, HeaderSize
		}
		top := uint64(binary.LittleEndian.Uint16(sec[HeaderSize:]))
		return int64(uint64(w)&low48 | top<<48), period, wideHeader
	}
	return w, period, HeaderSize
}

// TSDStart writes the header of an empty TSD sector with base utc (the
// periodic form, or the wide one when utc does not fit in 48 bits) and its
// first value.
func TSDStart(sec []byte, utc int64, v uint32) {
	off := HeaderSize
	if utc<<16>>16 == utc {
		PutBase(sec, utc)
	} else {
		binary.LittleEndian.PutUint64(sec, uint64(utc)&low48|wideMark<<48)
		binary.LittleEndian.PutUint32(sec[HeaderSize:], uint32(uint64(utc)>>48))
		off = wideHeader
	}
	binary.LittleEndian.PutUint32(sec[off:], v)
}

// TSDAppend stores v as value c (c >= 1) of a TSD sector when a sample at
// utc belongs there: within tol/2 of the next derived slot, or the second
// sample early enough to set the sector's step (see the package comment).
// It reports false, changing nothing, otherwise (the sector full included).
func TSDAppend(sec []byte, c int, period, tol int64, v uint32, utc int64) bool {
	off, step, ok := tsdPlace(sec, c, period, tol, utc)
	if !ok {
		return false
	}
	if step >= 0 {
		w := binary.LittleEndian.Uint64(sec)
		binary.LittleEndian.PutUint64(sec, w&low48|uint64(step+stepBias)<<48)
	}
	binary.LittleEndian.PutUint32(sec[off+4*c:], v)
	return true
}

// TSDAppendPeriodic is TSDAppend's common case, small enough to inline on
// the write path: it takes the sample only into the next slot of a
// periodic sector and reports false, changing nothing, in every other case
// (where TSDAppend decides).
func TSDAppendPeriodic(sec []byte, c int, period, tol int64, v uint32, utc int64) bool {
	w, off := int64(binary.LittleEndian.Uint64(sec)), HeaderSize+4*c
	if d := utc - (w + int64(c)*period); w<<16>>16 != w || 2*max(d, -d) > tol || c < 1 || off+4 > len(sec) {
		return false
	}
	binary.LittleEndian.PutUint32(sec[off:], v)
	return true
}

// TSDFits reports whether TSDAppend would take a sample at utc.
func TSDFits(sec []byte, c int, period, tol, utc int64) bool {
	_, _, ok := tsdPlace(sec, c, period, tol, utc)
	return ok
}

// tsdPlace decides where a sample at utc goes: the sector's value offset,
// the step to set (-1: none) and whether the sector takes it at all.
func tsdPlace(sec []byte, c int, period, tol, utc int64) (off int, setStep int64, ok bool) {
	base, step, off := TSDHeader(sec, period)
	if c < 1 || off+4*c+4 > len(sec) {
		return off, -1, false
	}
	d := utc - (base + int64(c)*step)
	if 2*max(d, -d) <= tol {
		return off, -1, true
	}
	// A sector holding one sample is periodic or wide; only a periodic one
	// (its base fits in 48 bits) has room for a step.
	if delta := utc - base; c == 1 && off == HeaderSize && delta >= 0 && 2*delta < period && delta <= MaxTSDStep {
		return off, delta, true
	}
	return off, -1, false
}

// TSDRecord is the value and derived timestamp of the i-th record of a TSD
// sector of a stream with the given period.
func TSDRecord(sec []byte, i int, period int64) (uint32, int64) {
	base, step, off := TSDHeader(sec, period)
	return binary.LittleEndian.Uint32(sec[off+4*i:]), base + int64(i)*step
}

// EVTAppend appends an event at byte offset used (HeaderSize or more; a
// sector with used < HeaderSize is empty and gets utc as its base). It
// returns the new used offset, or ok=false when the record does not fit.
func EVTAppend(sec []byte, used int, value uint32, utc int64) (int, bool) {
	if used < HeaderSize {
		if len(sec) < HeaderSize+5 {
			return used, false
		}
		PutBase(sec, utc)
		used = HeaderSize
	}
	delta := utc - Base(sec)
	need := 4 + varintLen(delta)
	if used+need > len(sec) {
		return used, false
	}
	binary.LittleEndian.PutUint32(sec[used:], value)
	binary.PutVarint(sec[used+4:], delta)
	return used + need, true
}

// EVTFits reports whether an event at utc fits at byte offset used.
func EVTFits(sec []byte, used int, utc int64) bool {
	if used < HeaderSize {
		return len(sec) >= HeaderSize+5
	}
	return used+4+varintLen(utc-Base(sec)) <= len(sec)
}

// EVTDecode decodes the event at byte offset off and returns its value,
// timestamp and the offset of the next record.
func EVTDecode(sec []byte, off int) (value uint32, utc int64, next int, err error) {
	if off < HeaderSize || off+5 > len(sec) {
		return 0, 0, off, ErrCorrupt
	}
	value = binary.LittleEndian.Uint32(sec[off:])
	delta, n := binary.Varint(sec[off+4:])
	if n <= 0 {
		return 0, 0, off, ErrCorrupt
	}
	return value, Base(sec) + delta, off + 4 + n, nil
}

// EVTOffset is the byte offset of the i-th event of a sector.
func EVTOffset(sec []byte, i int) (int, error) {
	off := HeaderSize
	for ; i > 0; i-- {
		_, _, next, err := EVTDecode(sec, off)
		if err != nil {
			return off, err
		}
		off = next
	}
	return off, nil
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
