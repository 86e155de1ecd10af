package main

/*
#include "mm2.h"
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

// config is mm2_config_t resolved against the environment.
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
func start(c config, idempotent bool) C.imx_result_t {
	lifeMu.Lock()
	defer lifeMu.Unlock()
	if current.Load() != nil {
		if idempotent {
			return rcOK
		}
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
	case C.MM2_OVERFLOW_DROP_OLDEST:
		opts.Overflow = mm2.DropOldest
	case C.MM2_OVERFLOW_REJECT_NEW:
		opts.Overflow = mm2.RejectNew
	default:
		return rcInvalidParam
	}
	switch c.sync {
	case C.MM2_SYNC_ON_POWER_DOWN:
		opts.Sync = mm2.SyncOnPowerDown()
	case C.MM2_SYNC_INTERVAL:
		if c.intervalMs == 0 {
			return rcInvalidParam
		}
		opts.Sync = mm2.SyncInterval(time.Duration(c.intervalMs) * time.Millisecond)
	case C.MM2_SYNC_ALWAYS:
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

//export imx_memory_manager_init
func imx_memory_manager_init(poolSize C.uint32_t) (rc C.imx_result_t) {
	defer guard(&rc)
	return start(resolve(nil, nil, config{pool: uint32(poolSize)}), false)
}

//export imx_memory_manager_init_config
func imx_memory_manager_init_config(cfg *C.mm2_config_t) (rc C.imx_result_t) {
	defer guard(&rc)
	if cfg == nil {
		return start(resolve(nil, nil, config{}), false)
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
	}), false)
}

//export imx_sat_init
func imx_sat_init() (rc C.imx_result_t) {
	defer guard(&rc)
	return start(resolve(nil, nil, config{}), true)
}

//export imx_memory_manager_ready
func imx_memory_manager_ready() (ready C.int) {
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
func powerDown(m *mm2.Manager, timeout time.Duration) C.imx_result_t {
	if timeout <= 0 {
		timeout = powerDownWindow
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return code(m.PowerDown(ctx))
}

//export imx_memory_manager_shutdown
func imx_memory_manager_shutdown(timeoutMs C.uint32_t) (rc C.imx_result_t) {
	defer guard(&rc)
	lifeMu.Lock()
	defer lifeMu.Unlock()
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	rc = powerDown(l.m, time.Duration(timeoutMs)*time.Millisecond)
	current.Store(nil)
	if err := l.m.Close(); err != nil && rc == rcOK {
		rc = code(err)
	}
	if rc == rcNotInitialized {
		rc = rcOK // closed already: the goal is reached
	}
	return rc
}

//export imx_power_event_detected
func imx_power_event_detected() (rc C.imx_result_t) {
	defer guard(&rc)
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	return powerDown(l.m, powerDownWindow)
}

//export handle_power_abort_recovery
func handle_power_abort_recovery() (rc C.imx_result_t) {
	defer guard(&rc)
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	err := l.m.PowerAbort()
	if errors.Is(err, mm2.ErrInvalidArgument) {
		return rcInvalidState // no power-down in progress
	}
	return code(err)
}

//export imx_set_utc_available
func imx_set_utc_available(ok C.int) (rc C.imx_result_t) {
	defer guard(&rc)
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	l.m.SetUTCAvailable(ok != 0)
	return rcOK
}

//export process_memory_manager
func process_memory_manager(now C.imx_time_t) (rc C.imx_result_t) {
	defer guard(&rc)
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	// Writes, ACKs and drops complete in the call that causes them; what is
	// left is the disk backend's interval checkpoint and disk retry.
	return code(l.m.Tick())
}

//export imx_get_memory_stats
func imx_get_memory_stats(out *C.mm2_stats_t) (rc C.imx_result_t) {
	defer guard(&rc)
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	if out == nil {
		return rcInvalidParam
	}
	st := l.m.Stats()
	var o C.mm2_stats_t
	putString(o.platform[:], st.Profile)
	putString(o.backend[:], st.Backend)
	o.total_sectors = C.uint32_t(st.SectorsTotal)
	o.free_sectors = C.uint32_t(st.SectorsFree)
	o.used_sectors = C.uint32_t(st.SectorsUsed)
	o.sector_size = C.uint32_t(st.SectorSize)
	o.utilization_percent = C.uint32_t(st.UtilizationPct)
	o.pressure = C.uint32_t(st.Pressure)
	o.space_efficiency_percent = C.uint32_t(st.SpaceEfficiencyPct)
	o.configured_sensors = C.uint32_t(st.Streams)
	o.active_sensors = C.uint32_t(st.ActiveStreams)
	o.footprint_bytes = C.uint32_t(st.Footprint)
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
	if st.PoweringDown {
		o.powering_down = 1
	}
	if st.UTCAvailable {
		o.utc_available = 1
	}
	o.disk_bytes = C.uint64_t(st.DiskBytes)
	o.disk_files = C.uint32_t(st.DiskFiles)
	o.disk_records = C.uint64_t(st.DiskRecords)
	o.records_recovered = C.uint64_t(st.RecordsRecovered)
	o.records_skipped = C.uint64_t(st.RecordsSkipped)
	o.bytes_written = C.uint64_t(st.BytesWritten)
	o.syncs = C.uint64_t(st.Syncs)
	if st.DiskFull {
		o.disk_full = 1
	}
	if st.DiskError != "" {
		o.disk_error = 1
	}
	*out = o
	return rcOK
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

//export imx_validate_sector_chains
func imx_validate_sector_chains(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (rc C.imx_result_t) {
	defer guard(&rc)
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	if csb != nil || csd != nil {
		if _, _, rc := lookup(src, csb, csd); rc != rcOK {
			return rc
		}
	}
	if err := l.m.Check(); err != nil {
		if errors.Is(err, mm2.ErrClosed) {
			return rcNotInitialized
		}
		return rcCorrupted
	}
	return rcOK
}
