// Package layout holds the byte encodings of RAM sectors. They are pure
// functions over a sector's payload; the chain table (links, record counts)
// lives elsewhere and nothing of it is written here.
//
// Both kinds start with an 8-byte little-endian base timestamp (UTC ms).
//
// TSD sector, fixed period, derived timestamps t(i) = base + i*period:
//
//	+--------+--------+--------+-----+
//	| base   | value0 | value1 | ... |   8 + 4*n bytes, 6 values in 32 bytes
//	| int64  | uint32 | uint32 |     |
//	+--------+--------+--------+-----+
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

// Base is the base timestamp of a sector.
func Base(sec []byte) int64 { return int64(binary.LittleEndian.Uint64(sec)) }

// PutBase writes the base timestamp of a sector.
func PutBase(sec []byte, utc int64) { binary.LittleEndian.PutUint64(sec, uint64(utc)) }

// TSDCap is how many TSD values fit in a sector of size bytes.
func TSDCap(size int) int { return (size - HeaderSize) / 4 }

// TSDValue is the i-th value of a TSD sector.
func TSDValue(sec []byte, i int) uint32 {
	return binary.LittleEndian.Uint32(sec[HeaderSize+4*i:])
}

// PutTSDValue writes the i-th value of a TSD sector.
func PutTSDValue(sec []byte, i int, v uint32) {
	binary.LittleEndian.PutUint32(sec[HeaderSize+4*i:], v)
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
