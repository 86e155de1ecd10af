package mm2

import "fmt"

// Source is an upload destination. The order is the upload rotation order.
type Source uint8

// The named sources. Values up to MaxSources-1 are valid.
const (
	Gateway Source = iota
	Hosted
	BLE
	CAN
)

// MaxSources is the number of upload sources.
const MaxSources = 8

func (s Source) String() string {
	switch s {
	case Gateway:
		return "gateway"
	case Hosted:
		return "hosted"
	case BLE:
		return "ble"
	case CAN:
		return "can"
	}
	return fmt.Sprintf("source%d", uint8(s))
}

// Kind is the kind of a stream: TSD or EVT. A stream never mixes them.
type Kind uint8

const (
	// TSD is time-series data: a fixed period, derived timestamps, 4 bytes a sample.
	TSD Kind = iota + 1
	// EVT is event data: each record carries its own timestamp.
	EVT
)

func (k Kind) String() string {
	switch k {
	case TSD:
		return "tsd"
	case EVT:
		return "evt"
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// StreamID names one FIFO queue: a sensor of a source.
type StreamID struct {
	Source Source
	Sensor uint32
}

func (id StreamID) String() string { return fmt.Sprintf("%s/%d", id.Source, id.Sensor) }

func (id StreamID) less(o StreamID) bool {
	if id.Source != o.Source {
		return id.Source < o.Source
	}
	return id.Sensor < o.Sensor
}

// Sample is one record as a reader sees it.
type Sample struct {
	Value uint32 // raw 32 bits; math.Float32bits for floats
	UTCms int64  // UTC milliseconds
	Seq   uint64 // per stream, +1 per record, never reused; the first record is 1
}

// Counts are a stream's record counts. Total = New + Pending.
type Counts struct{ New, Pending, Total int }

// GPSConfig names, per source, the EVT sensors that receive a GPS fix.
type GPSConfig struct{ Latitude, Longitude, Altitude, Speed uint32 }

// GPSFix is one position written by WriteEventWithGPS.
type GPSFix struct{ Latitude, Longitude, Altitude, Speed float32 }

// Overflow is what happens when the RAM pool is full and no disk tier takes
// new sectors.
type Overflow uint8

const (
	// DropOldest frees the oldest sector holding no pending record (the
	// writing stream's own first, then the globally oldest); every dropped
	// record is counted. If only pending data remains the write fails with ErrFull.
	DropOldest Overflow = iota
	// RejectNew refuses the write with ErrFull and keeps all stored data.
	RejectNew
)

// DropReason says why records were discarded without being acknowledged.
type DropReason uint8

const (
	// DropRAMFull is the reason of records freed by DropOldest because the RAM pool was full.
	DropRAMFull DropReason = iota
	// DropDiskCap is the reason of records in the oldest disk segment, dropped at the disk cap.
	DropDiskCap
	// DropCorrupt is the reason of records in a damaged frame, found at Open or while running.
	DropCorrupt
	numDropReasons
)

func (r DropReason) String() string {
	switch r {
	case DropRAMFull:
		return "ram-full"
	case DropDiskCap:
		return "disk-cap"
	case DropCorrupt:
		return "corrupt"
	}
	return fmt.Sprintf("reason%d", uint8(r))
}

// Drops counts discarded records by reason.
type Drops struct {
	RAMFull, DiskCap, Corrupt uint64
}

// Total is the sum over all reasons.
func (d Drops) Total() uint64 { return d.RAMFull + d.DiskCap + d.Corrupt }

func (d *Drops) add(r DropReason, n uint64) {
	switch r {
	case DropRAMFull:
		d.RAMFull += n
	case DropDiskCap:
		d.DiskCap += n
	case DropCorrupt:
		d.Corrupt += n
	}
}
