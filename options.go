package mm2

import (
	"fmt"
	"log/slog"
	"time"
)

// SyncPolicy says when the disk backend makes data durable, and so what a
// sudden crash may lose (docs/durability.md). The mock backend ignores it.
type SyncPolicy struct {
	mode     syncMode
	interval time.Duration
}

type syncMode uint8

const (
	syncOnPowerDown syncMode = iota
	syncInterval
	syncAlways
)

// SyncOnPowerDown forces nothing to the device before PowerDown or Close
// (least flash wear), yet loses nothing on a process crash: every write and
// ACK is in the crash journal, a shared memory mapping, when it returns. A
// power cut without PowerDown can lose what the operating system had not
// written back. The default.
func SyncOnPowerDown() SyncPolicy { return SyncPolicy{mode: syncOnPowerDown} }

// SyncInterval is SyncOnPowerDown that also makes the journal durable every
// d (one msync when something changed), so a power cut loses at most the
// last d.
func SyncInterval(d time.Duration) SyncPolicy { return SyncPolicy{mode: syncInterval, interval: d} }

// SyncAlways makes every write and ACK durable before it returns.
// Concurrent writers and ACKs share one msync of the journal (group
// commit), made without the manager's lock.
func SyncAlways() SyncPolicy { return SyncPolicy{mode: syncAlways} }

func (p SyncPolicy) String() string {
	switch p.mode {
	case syncInterval:
		return "interval(" + p.interval.String() + ")"
	case syncAlways:
		return "always"
	}
	return "on-power-down"
}

// Options configure a Manager. The zero value is the linux profile with the
// mock (RAM only) backend.
type Options struct {
	Profile      Profile // zero value = ProfileLinux
	Dir          string  // "" = mock backend (RAM only); else disk backend rooted here
	Overflow     Overflow
	Sync         SyncPolicy
	SpillPercent int              // pool use at which new sectors go to disk; 0 = 80
	DiskCapBytes int64            // 0 = 256 MB
	SegmentBytes int              // 0 = 256 KB
	JournalBytes int              // each of the two crash journal files; 0 = 640 KB
	Clock        func() time.Time // nil = time.Now
	Logger       *slog.Logger     // nil = discard
}

// Defaults of the disk tier.
const (
	DefaultSpillPercent = 80
	DefaultDiskCapBytes = 256 << 20
	DefaultSegmentBytes = 256 << 10
	// MaxDiskCapBytes keeps a stream's record counts within 32 bits (a
	// stream's counts are uint32 in the stream table).
	MaxDiskCapBytes = 8 << 30
)

func (o Options) withDefaults() (Options, error) {
	if o.Profile == (Profile{}) {
		o.Profile = ProfileLinux
	}
	if err := o.Profile.validate(); err != nil {
		return o, err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, a...))
	}
	if o.Overflow != DropOldest && o.Overflow != RejectNew {
		return o, bad("overflow policy %d", o.Overflow)
	}
	if o.SpillPercent == 0 {
		o.SpillPercent = DefaultSpillPercent
	}
	if o.SpillPercent < 1 || o.SpillPercent > 100 {
		return o, bad("spill percent %d out of 1..100", o.SpillPercent)
	}
	if o.DiskCapBytes == 0 {
		o.DiskCapBytes = DefaultDiskCapBytes
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.JournalBytes == 0 {
		o.JournalBytes = DefaultJournalBytes
	}
	if o.JournalBytes < 4<<10 || o.JournalBytes > 1<<30 {
		return o, bad("journal size %d out of 4 KB..1 GB", o.JournalBytes)
	}
	if o.DiskCapBytes < 0 || o.DiskCapBytes > MaxDiskCapBytes {
		return o, bad("disk cap %d out of 1..%d bytes", o.DiskCapBytes, int64(MaxDiskCapBytes))
	}
	if o.SegmentBytes < 4<<10 || int64(o.SegmentBytes) > o.DiskCapBytes/2 {
		return o, bad("segment size %d: want at least 4 KB and at most half the disk cap", o.SegmentBytes)
	}
	if o.Sync.mode > syncAlways || (o.Sync.mode == syncInterval && o.Sync.interval <= 0) {
		return o, bad("sync policy %s", o.Sync)
	}
	if o.Dir != "" && !o.Profile.DiskTier {
		return o, bad("profile %q has no disk tier; use the mock backend (Dir \"\")", o.Profile.Name)
	}
	return o, nil
}
