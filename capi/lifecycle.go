package main

/*
#include "mm2_core.h"
*/
import "C"

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"github.com/mm2go/mm2"
)

// powerDownWindow is the original's power-down window: how long a power
// event may take to spool everything to disk.
const powerDownWindow = 60 * time.Second

// config is mm2_core_config_t resolved against the environment.
type config struct {
	platform   string
	dir        string
	pool       uint32
	overflow   uint32
	sync       uint32
	intervalMs uint32
}

// resolve fills what the caller left unset from MM2_PLATFORM and MM2_DIR.
func resolve(platform, dir *string, c config) config {
	if platform != nil {
		c.platform = *platform
	} else {
		c.platform = os.Getenv("MM2_PLATFORM")
	}
	if c.platform == "" {
		c.platform = "linux"
	}
	if dir != nil {
		c.dir = *dir
	} else {
		c.dir = os.Getenv("MM2_DIR")
	}
	return c
}

// start opens a manager for c and makes it the running instance.
func start(c config) C.mm2_core_rc_t {
	lifeMu.Lock()
	defer lifeMu.Unlock()
	if current.Load() != nil {
		return rcInvalidState
	}
	prof, err := mm2.ProfileByName(c.platform)
	if err != nil {
		return rcInvalidParam
	}
	if c.pool != 0 {
		if uint64(c.pool) > uint64(1<<31-1) {
			return rcInvalidParam
		}
		prof.PoolBytes = int(c.pool)
	}
	opts := mm2.Options{Profile: prof, Dir: c.dir}
	switch c.overflow {
	case C.MM2_CORE_OVERFLOW_DROP_OLDEST:
		opts.Overflow = mm2.DropOldest
	case C.MM2_CORE_OVERFLOW_REJECT_NEW:
		opts.Overflow = mm2.RejectNew
	default:
		return rcInvalidParam
	}
	switch c.sync {
	case C.MM2_CORE_SYNC_ON_POWER_DOWN:
		opts.Sync = mm2.SyncOnPowerDown()
	case C.MM2_CORE_SYNC_INTERVAL:
		if c.intervalMs == 0 {
			return rcInvalidParam
		}
		opts.Sync = mm2.SyncInterval(time.Duration(c.intervalMs) * time.Millisecond)
	case C.MM2_CORE_SYNC_ALWAYS:
		opts.Sync = mm2.SyncAlways()
	default:
		return rcInvalidParam
	}
	m, err := mm2.Open(opts)
	switch {
	case err == nil:
	case errors.Is(err, mm2.ErrInvalidArgument):
		return rcInvalidParam
	case c.dir != "":
		// Open fails on a directory only when it cannot be used.
		return rcNoBackend
	default:
		return rcInitError
	}
	instances++
	if instances == 0 {
		instances++
	}
	current.Store(&library{
		m:        m,
		instance: instances,
		byID:     make(map[mm2.StreamID]uint32),
		table:    make([]atomic.Pointer[sensorEnt], m.Profile().MaxStreams),
	})
	return rcOK
}

//export mm2_core_init
func mm2_core_init(cfg *C.mm2_core_config_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	if cfg == nil {
		return start(resolve(nil, nil, config{}))
	}
	var platform, dir *string
	if cfg.platform != nil {
		s := C.GoString(cfg.platform)
		platform = &s
	}
	if cfg.dir != nil {
		s := C.GoString(cfg.dir)
		dir = &s
	}
	return start(resolve(platform, dir, config{
		pool: uint32(cfg.pool_size), overflow: uint32(cfg.overflow),
		sync: uint32(cfg.sync_policy), intervalMs: uint32(cfg.sync_interval_ms),
	}))
}

//export mm2_core_ready
func mm2_core_ready() (ready C.int32_t) {
	defer guardInt(&ready)
	l := current.Load()
	if l == nil {
		return 0
	}
	// Stats is the only public view of the UTC and power-down flags.
	st := l.m.Stats()
	if st.UTCAvailable && !st.PoweringDown {
		return 1
	}
	return 0
}

// powerDown runs Manager.PowerDown with a deadline (0 = powerDownWindow).
func powerDown(l *library, timeoutMs C.uint32_t) C.mm2_core_rc_t {
	timeout := time.Duration(timeoutMs) * time.Millisecond
	if timeout <= 0 {
		timeout = powerDownWindow
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rc := code(l.m.PowerDown(ctx))
	l.downClean.Store(rc == rcOK)
	return rc
}

//export mm2_core_close
func mm2_core_close(timeoutMs C.uint32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	lifeMu.Lock()
	defer lifeMu.Unlock()
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	rc = powerDown(l, timeoutMs)
	current.Store(nil)
	if err := l.m.Close(); err != nil && rc == rcOK {
		rc = code(err)
	}
	if rc == rcNotInitialized {
		rc = rcOK // closed already: the goal is reached
	}
	return rc
}

//export mm2_core_power_down
func mm2_core_power_down(timeoutMs C.uint32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	if l.downClean.Load() {
		return rcOK
	}
	return powerDown(l, timeoutMs)
}

//export mm2_core_power_abort
func mm2_core_power_abort() (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	err := l.m.PowerAbort()
	if errors.Is(err, mm2.ErrInvalidArgument) {
		return rcInvalidState // no power-down in progress
	}
	if err == nil {
		l.downClean.Store(false)
	}
	return code(err)
}

//export mm2_core_set_utc_available
func mm2_core_set_utc_available(ok C.int32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	l.m.SetUTCAvailable(ok != 0)
	return rcOK
}

//export mm2_core_tick
func mm2_core_tick() (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	// Writes, ACKs and drops complete in the call that causes them; what is
	// left is the disk backend's interval checkpoint and disk retry.
	return code(l.m.Tick())
}

//export mm2_core_stats
func mm2_core_stats(out *C.mm2_core_stats_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	if out == nil {
		return rcInvalidParam
	}
	st := l.m.Stats()
	var o C.mm2_core_stats_t
	putString(o.platform[:], st.Profile)
	putString(o.backend[:], st.Backend)
	o.total_sectors = C.uint32_t(st.SectorsTotal)
	o.free_sectors = C.uint32_t(st.SectorsFree)
	o.used_sectors = C.uint32_t(st.SectorsUsed)
	o.sector_size = C.uint32_t(st.SectorSize)
	o.utilization_percent = C.uint32_t(st.UtilizationPct)
	o.space_efficiency_percent = C.uint32_t(st.SpaceEfficiencyPct)
	o.configured_sensors = C.uint32_t(st.Streams)
	o.active_sensors = C.uint32_t(st.ActiveStreams)
	o.total_allocations = C.uint64_t(st.Allocations)
	o.allocation_failures = C.uint64_t(st.AllocationFailures)
	o.total_frees = C.uint64_t(st.Frees)
	o.rejected_writes = C.uint64_t(st.RejectedWrites)
	o.stored_records = C.uint64_t(st.StoredRecords)
	o.new_records = C.uint64_t(st.New)
	o.pending_records = C.uint64_t(st.Pending)
	o.dropped_ram_full = C.uint64_t(st.Drops.RAMFull)
	o.dropped_disk_cap = C.uint64_t(st.Drops.DiskCap)
	o.dropped_corrupt = C.uint64_t(st.Drops.Corrupt)
	o.disk_bytes = C.uint64_t(st.DiskBytes)
	o.disk_records = C.uint64_t(st.DiskRecords)
	o.records_recovered = C.uint64_t(st.RecordsRecovered)
	o.bytes_written = C.uint64_t(st.BytesWritten)
	o.disk_files = C.uint32_t(st.DiskFiles)
	o.disk_full = flag(st.DiskFull)
	o.disk_error = flag(st.DiskError != "")
	o.powering_down = flag(st.PoweringDown)
	o.utc_available = flag(st.UTCAvailable)
	*out = o
	return rcOK
}

func flag(b bool) C.uint8_t {
	if b {
		return 1
	}
	return 0
}

// putString copies s into a fixed C char array, truncated and NUL-terminated.
func putString(dst []C.char, s string) {
	n := min(len(s), len(dst)-1)
	for i := range n {
		dst[i] = C.char(s[i])
	}
	for i := n; i < len(dst); i++ {
		dst[i] = 0
	}
}

//export mm2_core_check
func mm2_core_check() (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	if err := l.m.Check(); err != nil {
		if errors.Is(err, mm2.ErrClosed) {
			return rcNotInitialized
		}
		return rcCorrupted
	}
	return rcOK
}

//export mm2_core_discard_all
func mm2_core_discard_all(records *C.uint64_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	bp := samplePool.Get().(*[]mm2.Sample)
	defer samplePool.Put(bp)
	var total uint64
	for _, id := range l.m.Streams() {
		s, err := l.m.Stream(id)
		if err != nil {
			return code(err)
		}
		if _, err := s.Nack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
			return code(err)
		}
		for {
			if _, err := s.ReadBulk(*bp); err != nil {
				if !errors.Is(err, mm2.ErrNoData) {
					return code(err)
				}
				break
			}
			n, err := s.Ack()
			if err != nil {
				return code(err)
			}
			total += uint64(n)
		}
	}
	l.downClean.Store(false)
	if records != nil {
		*records = C.uint64_t(total)
	}
	return rcOK
}
