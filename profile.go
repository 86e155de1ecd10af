package mm2

import (
	"fmt"
	"strings"
)

// Profile is a target platform (the original TARGET_PLATFORM). Its fields
// are defaults; Options may override the pool size and limits.
type Profile struct {
	Name         string // "linux", "wiced", "stm32"
	PoolBytes    int    // sector payload bytes in the RAM pool
	SectorSize   int    // bytes per sector, 32 by default
	SectorIDBits int    // 16 or 32
	MaxStreams   int
	BudgetBytes  int  // all-in footprint limit; 0 = none
	DiskTier     bool // may use the disk backend
	NeedUTC      bool // writes wait for SetUTCAvailable(true)
}

// The built-in profiles.
var (
	// ProfileLinux is a Linux gateway (e.g. iMX6): a 64 KB pool of 2,048
	// sectors, 32-bit sector ids, a disk tier, UTC always ready.
	ProfileLinux = Profile{
		Name: "linux", PoolBytes: 64 << 10, SectorSize: 32, SectorIDBits: 32,
		MaxStreams: 2048, DiskTier: true,
	}
	// ProfileWICED is a Wi-Fi MCU: 12 KB for everything the manager holds
	// (pool, chain table, 100 streams, the manager itself), so the pool is
	// what remains: 4 KB.
	ProfileWICED = Profile{
		Name: "wiced", PoolBytes: 4 << 10, SectorSize: 32, SectorIDBits: 16,
		MaxStreams: 100, BudgetBytes: 12 << 10, NeedUTC: true,
	}
	// ProfileSTM32 is a small MCU with a 4 KB sector pool.
	ProfileSTM32 = Profile{
		Name: "stm32", PoolBytes: 4 << 10, SectorSize: 32, SectorIDBits: 16,
		MaxStreams: 100, NeedUTC: true,
	}
)

// Profiles lists the built-in profiles.
func Profiles() []Profile { return []Profile{ProfileLinux, ProfileWICED, ProfileSTM32} }

// ProfileByName returns the built-in profile of that name (case-insensitive).
func ProfileByName(name string) (Profile, error) {
	for _, p := range Profiles() {
		if strings.EqualFold(p.Name, name) {
			return p, nil
		}
	}
	return Profile{}, fmt.Errorf("%w: unknown profile %q (want linux, wiced or stm32)", ErrInvalidArgument, name)
}

// Limits of a profile's fields, and why.
const (
	// MinSectorSize: a sector must hold its 8-byte base timestamp and at
	// least two TSD values or one worst-case event.
	MinSectorSize = 16
	// MaxSectorSize: read offsets and record counts are 8-bit in the stream
	// table, which keeps a stream at 64 bytes.
	MaxSectorSize = 256
	// MaxStreamsLimit: stream indexes are 16-bit.
	MaxStreamsLimit = 1<<16 - 1
)

func (p Profile) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: profile %q: %s", ErrInvalidArgument, p.Name, fmt.Sprintf(format, a...))
	}
	switch {
	case p.SectorSize < MinSectorSize || p.SectorSize > MaxSectorSize || p.SectorSize%4 != 0:
		return bad("sector size %d not a multiple of 4 in %d..%d", p.SectorSize, MinSectorSize, MaxSectorSize)
	case p.PoolBytes < p.SectorSize || p.PoolBytes%p.SectorSize != 0:
		return bad("pool of %d bytes is not a whole number (>= 1) of %d-byte sectors", p.PoolBytes, p.SectorSize)
	case p.SectorIDBits != 16 && p.SectorIDBits != 32:
		return bad("sector id bits %d, want 16 or 32", p.SectorIDBits)
	case p.MaxStreams < 1 || p.MaxStreams > MaxStreamsLimit:
		return bad("max streams %d out of 1..%d", p.MaxStreams, MaxStreamsLimit)
	case p.BudgetBytes < 0:
		return bad("negative budget %d", p.BudgetBytes)
	}
	return nil
}
