// Package workload defines the one workload every system in the comparison runs, the Store
// adapter interface the systems implement, and the measurements taken around it.
package workload

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Record is one TSD sample as the workload produces and expects it back.
type Record struct {
	Stream uint16
	Seq    uint64 // per stream, from 1, +1 per record
	UTC    int64  // milliseconds
	Value  uint32
}

// PackedSize is how many bytes a peer stores per record. The stream is implied by the queue or
// key the record lives under; the rest is packed as 6-byte sequence, 6-byte UTC ms and 4-byte
// value. That is kinder to the peers than their real encodings (a Telegraf metric or an
// OpenTelemetry request is hundreds of bytes).
const PackedSize = 16

// maxPacked48 is the largest value a 6-byte field holds.
const maxPacked48 = 1<<48 - 1

// Pack appends the 16-byte form of recs to dst.
func Pack(dst []byte, recs []Record) []byte {
	for _, r := range recs {
		dst = packOne(dst, r)
	}
	return dst
}

func packOne(dst []byte, r Record) []byte {
	var b [PackedSize]byte
	put48(b[0:6], r.Seq)
	put48(b[6:12], uint64(r.UTC))
	binary.LittleEndian.PutUint32(b[12:16], r.Value)
	return append(dst, b[:]...)
}

// Unpack decodes packed records of stream into dst and returns how many it decoded. It stops
// at len(dst) and reports an error when src is not a whole number of records.
func Unpack(dst []Record, stream uint16, src []byte) (int, error) {
	if len(src)%PackedSize != 0 {
		return 0, fmt.Errorf("packed records: length %d is not a multiple of %d", len(src), PackedSize)
	}
	n := 0
	for len(src) > 0 && n < len(dst) {
		dst[n] = Record{
			Stream: stream,
			Seq:    get48(src[0:6]),
			UTC:    int64(get48(src[6:12])),
			Value:  binary.LittleEndian.Uint32(src[12:16]),
		}
		src = src[PackedSize:]
		n++
	}
	return n, nil
}

// PackedCount is how many records a packed entry holds.
func PackedCount(src []byte) int { return len(src) / PackedSize }

// MixedPackedSize is how many bytes a peer stores per record of workload d, where one queue
// holds every stream: the 16-byte form plus the 2-byte stream number in front.
const MixedPackedSize = 2 + PackedSize

// Layout is how a store is asked to hold the streams' records.
type Layout int

const (
	// PerStream is one queue per stream: an entry holds records of one stream (workloads a, b,
	// c and the kill -9 test).
	PerStream Layout = iota
	// OneQueue is one queue for every stream: an entry holds records of many streams, as
	// Telegraf's disk buffer and the OpenTelemetry persistent queue hold them (workload d).
	// mm2 keeps each stream its own queue whatever the layout: that is its design.
	OneQueue
)

func (l Layout) String() string {
	switch l {
	case PerStream:
		return "one queue per stream"
	case OneQueue:
		return "one queue"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// Codec packs and unpacks the records of one entry the way a layout needs: PerStream leaves
// the stream to the queue, OneQueue stores it with each record.
type Codec struct{ layout Layout }

// CodecFor is the codec of layout l.
func CodecFor(l Layout) Codec { return Codec{layout: l} }

// Queues is how many queues a peer keeps for streams streams under this layout.
func (c Codec) Queues(streams int) int {
	if c.layout == OneQueue {
		return 1
	}
	return streams
}

// Size is the packed size of one record.
func (c Codec) Size() int {
	if c.layout == OneQueue {
		return MixedPackedSize
	}
	return PackedSize
}

// Pack appends the packed form of recs to dst.
func (c Codec) Pack(dst []byte, recs []Record) []byte {
	if c.layout != OneQueue {
		return Pack(dst, recs)
	}
	for _, r := range recs {
		dst = packOne(binary.LittleEndian.AppendUint16(dst, r.Stream), r)
	}
	return dst
}

// Unpack decodes a packed entry of queue into dst (see the package function Unpack).
func (c Codec) Unpack(dst []Record, queue uint16, src []byte) (int, error) {
	if c.layout != OneQueue {
		return Unpack(dst, queue, src)
	}
	if len(src)%MixedPackedSize != 0 {
		return 0, fmt.Errorf("packed records: length %d is not a multiple of %d", len(src), MixedPackedSize)
	}
	n := 0
	for len(src) > 0 && n < len(dst) {
		stream := binary.LittleEndian.Uint16(src)
		if _, err := Unpack(dst[n:n+1], stream, src[2:MixedPackedSize]); err != nil {
			return n, err
		}
		src = src[MixedPackedSize:]
		n++
	}
	return n, nil
}

// Count is how many records a packed entry holds.
func (c Codec) Count(src []byte) int { return len(src) / c.Size() }

func put48(b []byte, v uint64) {
	if v > maxPacked48 {
		panic("workload: value does not fit 48 bits")
	}
	for i := range 6 {
		b[i] = byte(v >> (8 * i))
	}
}

func get48(b []byte) uint64 {
	var v uint64
	for i := range 6 {
		v |= uint64(b[i]) << (8 * i)
	}
	return v
}

// Durability is the variant a system is opened with.
type Durability int

const (
	// Synced means every Append and Ack is on stable storage before it returns.
	Synced Durability = iota
	// NotSynced means nothing is fsynced; data reaches the OS and the disk when the OS decides.
	NotSynced
)

func (d Durability) String() string {
	switch d {
	case Synced:
		return "synced"
	case NotSynced:
		return "not synced"
	}
	return fmt.Sprintf("Durability(%d)", int(d))
}

// ParseDurability is the inverse of String, also accepting "notsynced".
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "synced":
		return Synced, nil
	case "not synced", "notsynced", "not-synced":
		return NotSynced, nil
	}
	return 0, fmt.Errorf("unknown durability %q", s)
}

// Store is what an adapter gives the workload: FIFO queues with at-least-once delivery.
// It must be safe for one appending goroutine and one reading goroutine at once.
//
// Under the PerStream layout queue i holds stream i. Under OneQueue a peer holds every
// stream in queue 0; mm2 keeps one queue per stream under both (Queues tells the reader).
type Store interface {
	// Append stores recs (in sequence order within each stream) as one entry of queue. Under
	// PerStream every record is of stream queue; under OneQueue the caller passes queue 0.
	Append(queue uint16, recs []Record) error
	// Read fills dst with up to len(dst) of the oldest records of queue not yet read since
	// the last Ack and marks them read. dst holds at least one appended batch. It returns 0
	// and no error when nothing is unread; a store that can only hand out one entry at a
	// time may also return 0 while records are read and not yet acked, so callers Ack
	// between reads.
	Read(queue uint16, dst []Record) (int, error)
	// Ack erases every record of queue that Read returned and reports how many. Records read
	// and not acknowledged are delivered again after a reopen.
	Ack(queue uint16) (int, error)
	// Queues is how many queues a reader drains: 0 .. Queues()-1.
	Queues() int
	// DiskBytes is what the store occupies on disk now.
	DiskBytes() (int64, error)
	Close() error
}

// Opener opens (creating or recovering) a store rooted at dir for streams streams, held
// the way layout says.
type Opener func(dir string, d Durability, streams int, layout Layout) (Store, error)

// ErrNotAvailable marks a system that cannot run in this build.
var ErrNotAvailable = errors.New("not available")
