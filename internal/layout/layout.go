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
// The header word w is one of four forms, told apart by its top 16 bits
// (hi) and by whether w fits in 48 signed bits:
//
//	periodic  w fits in 48 bits (hi is 0x0000 or 0xffff, bit 47's sign
//	          extension): base = w, step = the stream's period. The form
//	          of a sector opened in step with the stream.
//	fast      hi = 0xfffd: periodic (base = the low 48 bits, sign-extended;
//	          step = the period), opened by a stream running faster than
//	          its period: the sample that opened it came more than half a
//	          period before the previous sector's next slot, or that
//	          sector was stepped. It becomes periodic or stepped with its
//	          second sample.
//	stepped   hi in 1..0xfffc: base = the low 48 bits, sign-extended;
//	          step = hi - 1 ms (0..MaxTSDStep), always less than the period.
//	wide      hi = 0xfffe: a base that does not fit in 48 bits (before
//	          March -2490 or after October 6429); the low 48 bits of the
//	          base are the low 48 bits of w, its top 16 bits the next 2
//	          bytes, 2 bytes of padding, then the values: 5 in 32 bytes.
//	          step = the period; never stepped.
//
// The second sample (c = 1) of a periodic or fast sector, come δ after the
// base with 0 <= δ <= MaxTSDStep and δ < period/2 (δ < period in a fast
// sector), makes the sector stepped with step δ: t(1) = base + δ is exact.
// Otherwise a sample goes in as value c when it is within tol/2 of the next
// derived slot base + c*step (restoring, a second sample exactly δ < period
// after the base also sets the step). Otherwise it opens a new sector.
// Live writes pass tol = period: every derived time is within ±period/2 of
// its write, whatever the step, and samples written faster than the
// period fill sectors. Restoring derived times passes tol = 0 and
// gets them back exactly: a stepped sector's times are base + i*δ with
// δ < period, which the same rule rebuilds.
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

// HeaderSize is the header word that starts every sector.
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
	MaxTSDStep = 0xfffb
	stepBias   = 1      // hi of a stepped sector: step + stepBias
	fastMark   = 0xfffd // hi of a fast sector
	wideMark   = 0xfffe // hi of a wide sector
	wideHeader = 12     // header bytes of a wide sector
	low48      = 1<<48 - 1
)

// TSDCap is how many TSD values fit in a sector of size bytes whose base
// fits in 48 bits (all but wide sectors, which hold one fewer).
func TSDCap(size int) int { return (size - HeaderSize) / 4 }

// TSD header forms.
const (
	formPeriodic = iota
	formFast
	formStepped
	formWide
)

// TSDHeader decodes a TSD sector's header: its base timestamp, the step
// between its derived timestamps (period unless the sector is stepped) and
// the byte offset of its first value.
func TSDHeader(sec []byte, period int64) (base, step int64, off int) {
	base, step, off, _ = tsdDecode(sec, period)
	return base, step, off
}

func tsdDecode(sec []byte, period int64) (base, step int64, off, form int) {
	w := int64(binary.LittleEndian.Uint64(sec))
	lo := w << 16 >> 16
	if lo == w {
		return w, period, HeaderSize, formPeriodic
	}
	switch hi := uint64(w) >> 48; hi {
	case fastMark:
		return lo, period, HeaderSize, formFast
	case wideMark:
		top := uint64(binary.LittleEndian.Uint16(sec[HeaderSize:]))
		return int64(uint64(w)&low48 | top<<48), period, wideHeader, formWide
	default:
		return lo, int64(hi) - stepBias, HeaderSize, formStepped
	}
}

// TSDStart writes the header of an empty TSD sector with base utc and its
// first value: the periodic form, the fast one when fast (see
// TSDOpensFast), or the wide one when utc does not fit in 48 bits.
func TSDStart(sec []byte, utc int64, v uint32, fast bool) {
	off := HeaderSize
	switch {
	case utc<<16>>16 != utc:
		binary.LittleEndian.PutUint64(sec, uint64(utc)&low48|wideMark<<48)
		binary.LittleEndian.PutUint32(sec[HeaderSize:], uint32(uint64(utc)>>48))
		off = wideHeader
	case fast:
		binary.LittleEndian.PutUint64(sec, uint64(utc)&low48|fastMark<<48)
	default:
		PutBase(sec, utc)
	}
	binary.LittleEndian.PutUint32(sec[off:], v)
}

// TSDOpensFast reports whether a sample at utc that a sector holding c
// values did not take opens a fast sector: that sector is stepped, or the
// sample came more than half a period before its next slot.
func TSDOpensFast(sec []byte, c int, period, utc int64) bool {
	base, step, _, form := tsdDecode(sec, period)
	return form == formStepped || 2*(base+int64(c)*step-utc) > period
}

// TSDAppend stores v as value c (c >= 1) of a TSD sector when a sample at
// utc belongs there: within tol/2 of the next derived slot, or the second
// sample early enough to set the sector's step (see the package comment).
// It reports false, changing nothing, otherwise (the sector full included).
func TSDAppend(sec []byte, c int, period, tol int64, v uint32, utc int64) bool {
	off, word, rewrite, ok := tsdPlace(sec, c, period, tol, utc)
	if !ok {
		return false
	}
	if rewrite {
		binary.LittleEndian.PutUint64(sec, word)
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
	_, _, _, ok := tsdPlace(sec, c, period, tol, utc)
	return ok
}

// tsdPlace decides where a sample at utc goes: the sector's value offset,
// the header word to write first when rewrite is set, and whether the
// sector takes the sample at all.
func tsdPlace(sec []byte, c int, period, tol, utc int64) (off int, word uint64, rewrite, ok bool) {
	base, step, off, form := tsdDecode(sec, period)
	if c < 1 || off+4*c+4 > len(sec) {
		return off, 0, false, false
	}
	// Only the second sample of a periodic or fast sector may set a step,
	// and only one less than the period.
	delta := utc - base
	canStep := c == 1 && (form == formPeriodic || form == formFast) && delta >= 0 && delta < period && delta <= MaxTSDStep
	stepWord := uint64(base)&low48 | uint64(delta+stepBias)<<48
	if canStep && (2*delta < period || form == formFast) {
		return off, stepWord, true, true
	}
	if d := utc - (base + int64(c)*step); 2*max(d, -d) <= tol {
		// A fast sector whose second sample came in its periodic slot is
		// periodic from then on.
		return off, uint64(base), form == formFast, true
	}
	if canStep && tol == 0 { // restoring a step set while fast
		return off, stepWord, true, true
	}
	return off, 0, false, false
}

// TSDPeriodicBase returns the base of a TSD sector in the periodic form
// (no step, no mark: the common one) and true, or false for the other
// forms, which TSDHeader reads. It is small enough to inline on the read
// path.
func TSDPeriodicBase(sec []byte) (int64, bool) {
	w := int64(binary.LittleEndian.Uint64(sec))
	return w, w<<16>>16 == w
}

// TSDValue is the i-th value of a TSD sector in the periodic form.
func TSDValue(sec []byte, i int) uint32 { return binary.LittleEndian.Uint32(sec[HeaderSize+4*i:]) }

// TSDRecord is the value and derived timestamp of the i-th record of a TSD
// sector of a stream with the given period.
func TSDRecord(sec []byte, i int, period int64) (uint32, int64) {
	if base, ok := TSDPeriodicBase(sec); ok {
		return TSDValue(sec, i), base + int64(i)*period
	}
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
