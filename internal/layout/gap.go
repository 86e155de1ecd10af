package layout

import "encoding/binary"

// A gap sector stands in a chain where records were dropped from behind a
// batch in flight: it holds no record (its chain-table count is 0) and its
// first 8 bytes are how many consecutive sequence numbers were dropped at
// that place, little-endian. The records after it are numbered past them.
//
//	+--------+-----------+
//	| gap    | (unused)  |
//	| uint64 |           |
//	+--------+-----------+

// Gap is the number of dropped records a gap sector stands for.
func Gap(sec []byte) uint64 { return binary.LittleEndian.Uint64(sec) }

// PutGap writes the number of dropped records of a gap sector.
func PutGap(sec []byte, n uint64) { binary.LittleEndian.PutUint64(sec, n) }
