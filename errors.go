package mm2

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every public call documents which of these it returns;
// test with errors.Is, since some are wrapped with context.
var (
	// ErrNoData: nothing unread to read or peek, or nothing pending to ACK or NACK.
	ErrNoData = errors.New("mm2: no data")
	// ErrUnknownStream: the stream was never configured.
	ErrUnknownStream = errors.New("mm2: unknown stream")
	// ErrKindMismatch: a write of the other kind, or a Configure that disagrees
	// with the stream's existing kind or period.
	ErrKindMismatch = errors.New("mm2: kind mismatch")
	// ErrInvalidArgument: an out-of-range source, kind, period, index or option.
	ErrInvalidArgument = errors.New("mm2: invalid argument")
	// ErrFull: no room for the record (only pending data left, RejectNew set,
	// or the stream table full); nothing was stored.
	ErrFull = errors.New("mm2: full")
	// ErrUTCNotAvailable: an MCU profile refuses writes until SetUTCAvailable(true).
	ErrUTCNotAvailable = errors.New("mm2: UTC not available")
	// ErrClosed: the manager was closed.
	ErrClosed = errors.New("mm2: closed")
	// ErrPoweringDown: writes are refused between PowerDown and PowerAbort.
	ErrPoweringDown = errors.New("mm2: powering down")
	// ErrDiskFull: the disk tier ran out of space; shown in Stats, writes fall
	// back to the RAM policy.
	ErrDiskFull = errors.New("mm2: disk full")
	// ErrNotDurable: under SyncAlways, a write or ACK was applied (the record
	// is stored, the ACK made) but the disk could not make it durable; it
	// becomes durable at the first sync that succeeds. Stats().DiskError
	// says why.
	ErrNotDurable = errors.New("mm2: not durable")
)

// CorruptionError says where damaged data was found on disk.
type CorruptionError struct {
	File   string
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("mm2: corruption in %s at offset %d: %v", e.File, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }
