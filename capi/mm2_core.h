/*
 * mm2_core.h - the neutral core ABI of libmm2.a.
 *
 * libmm2.a is the Go package github.com/mm2go/mm2 built as a C archive
 * (go build -buildmode=c-archive -o libmm2.a ./capi). It exports only the
 * mm2_core_* functions below. They use fixed-width C types and structures
 * defined here, nothing of the firmware: no imx_result_t, no csb/csd layout,
 * no upload-source enum. A firmware does not call them directly; it compiles
 * the small layer in capi/legacy/ (mm2_api.h, mm2_api.c, optionally
 * mm2_v1.c) together with its own common.h, and that layer maps the
 * firmware's types and result enumerators onto this ABI. See docs/legacy.md.
 *
 * Every structure here is read and written field by field on the Go side
 * (cgo knows the C layout of the target), so the ABI never depends on Go and
 * C laying out a structure alike: it is the same on x86-64, armhf and arm64.
 *
 * Sensors. A sensor is (source, id): source in 0..MM2_CORE_MAX_SOURCES-1,
 * id any uint32_t. mm2_core_configure returns a reference (mm2_ref_t, never
 * 0) that the caller keeps (the legacy layer keeps it in csd->mmcb) and
 * passes back with the same source and id on every later call; a zero,
 * foreign or stale reference (from before a close and a new init) is
 * refused with MM2_CORE_INVALID_ENTRY, never misrouted.
 *
 * Thread safety. Every function may be called from any thread, concurrently
 * with any other. Each sensor should have one reader/acker at a time.
 * Nothing blocks except mm2_core_power_down and mm2_core_close (bounded by
 * their timeout). Every failing call changes nothing, except the disk
 * errors (MM2_CORE_IO_ERROR, MM2_CORE_DISK_FULL) described below. A fault
 * inside the library is caught at the boundary and returned as
 * MM2_CORE_ERROR; nothing aborts the host process.
 */
#ifndef MM2_CORE_H
#define MM2_CORE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* mm2_core_rc_t is the result of every core call that can fail. */
typedef int32_t mm2_core_rc_t;

enum {
    MM2_CORE_OK = 0,
    MM2_CORE_ERROR = 1,             /* internal fault caught at the boundary (a bug) */
    MM2_CORE_OUT_OF_MEMORY = 2,     /* pool holds only pending data (or REJECT_NEW and full), or the sensor table is full */
    MM2_CORE_INVALID_PARAMETER = 3, /* NULL pointer, source out of range, bad value */
    MM2_CORE_INVALID_ENTRY = 4,     /* reference not issued by this instance for (source, id) */
    MM2_CORE_INACTIVE = 5,          /* the sensor is deactivated (writes and reads refused) */
    MM2_CORE_TIMEOUT = 6,           /* power-down did not finish in time */
    MM2_CORE_NO_DATA = 7,           /* nothing to read, peek, ACK or NACK */
    MM2_CORE_INIT_ERROR = 8,        /* the manager could not be created */
    MM2_CORE_NOT_INITIALIZED = 9,   /* mm2_core_init not called, or closed */
    MM2_CORE_KIND_MISMATCH = 10,    /* TSD write to an EVT sensor or the reverse; configure with another rate */
    MM2_CORE_UTC_NOT_AVAILABLE = 11,/* wiced/stm32 before mm2_core_set_utc_available(1) */
    MM2_CORE_POWERING_DOWN = 12,    /* writes refused between power-down and power-abort */
    MM2_CORE_INVALID_STATE = 13,    /* init while initialised; abort with no power-down */
    MM2_CORE_BACKEND_UNAVAILABLE = 14, /* the disk directory cannot be used */
    MM2_CORE_DISK_FULL = 15,        /* the disk tier is out of space */
    MM2_CORE_CORRUPTED = 16,        /* mm2_core_check found invariant violations */
    MM2_CORE_IO_ERROR = 17          /* disk I/O error; the call may have taken effect in RAM */
};

/* mm2_core_rc_string describes a result ("MM2_CORE_NO_DATA: ..."); static,
 * never NULL. */
const char *mm2_core_rc_string(mm2_core_rc_t rc);

/* The number of upload sources the core keeps apart. */
#define MM2_CORE_MAX_SOURCES 8

/* mm2_ref_t is a configured sensor's reference; 0 is never issued. */
typedef uint64_t mm2_ref_t;

/* mm2_core_sample_t is one record. The legacy layer's tsd_evt_value_t is
 * this type. */
typedef struct mm2_core_sample {
    uint32_t value;     /* raw 32 bits, as written */
    uint64_t timestamp; /* UTC ms: TSD derived from the period, EVT as written */
} mm2_core_sample_t;

/* Overflow policies (mm2_core_config_t.overflow). */
enum {
    MM2_CORE_OVERFLOW_DROP_OLDEST = 0, /* free the oldest sector holding no pending record; counted */
    MM2_CORE_OVERFLOW_REJECT_NEW = 1   /* refuse the write (MM2_CORE_OUT_OF_MEMORY) */
};

/* Sync policies of the disk backend (mm2_core_config_t.sync_policy). */
enum {
    MM2_CORE_SYNC_ON_POWER_DOWN = 0, /* sync at power-down and close only */
    MM2_CORE_SYNC_INTERVAL = 1,      /* checkpoint every sync_interval_ms */
    MM2_CORE_SYNC_ALWAYS = 2         /* every write and ACK durable before it returns */
};

/* mm2_core_config_t chooses profile and backend. A NULL string falls back
 * to the environment variable named beside it, then to the default. The
 * library copies what it needs. */
typedef struct mm2_core_config {
    const char *platform;      /* "linux" | "wiced" | "stm32"; NULL: MM2_PLATFORM, else linux */
    const char *dir;           /* disk backend directory; "" = RAM only; NULL: MM2_DIR, else "" */
    uint32_t pool_size;        /* sector pool bytes; 0 = the profile's */
    uint32_t overflow;         /* MM2_CORE_OVERFLOW_* */
    uint32_t sync_policy;      /* MM2_CORE_SYNC_* */
    uint32_t sync_interval_ms; /* MM2_CORE_SYNC_INTERVAL only: > 0 */
} mm2_core_config_t;

/* mm2_core_counts_t is one sensor's state (mm2_core_sensor_info). */
typedef struct mm2_core_counts {
    uint32_t new_count;          /* unread */
    uint32_t pending_count;      /* read, not yet acknowledged */
    uint32_t total_count;        /* new + pending */
    uint32_t active;             /* 1 unless deactivated */
    uint32_t sample_rate;        /* ms; 0 = EVT */
    uint32_t ram_sectors;        /* sectors of the sensor in the RAM pool */
    uint64_t acked_sequence;     /* newest acknowledged (or dropped) record's number */
    uint64_t written_sequence;   /* newest record's number (first record is 1) */
    uint64_t oldest_unacked_ms;  /* timestamp of the oldest unacknowledged record; 0 if none */
} mm2_core_counts_t;

/* mm2_core_stats_t is a snapshot of the whole manager. */
typedef struct mm2_core_stats {
    char platform[8];                  /* "linux", "wiced" or "stm32" */
    char backend[8];                   /* "mock" or "disk" */
    uint32_t total_sectors;
    uint32_t free_sectors;
    uint32_t used_sectors;
    uint32_t sector_size;
    uint32_t utilization_percent;
    uint32_t space_efficiency_percent;
    uint32_t configured_sensors;
    uint32_t active_sensors;           /* sensors holding unacknowledged records */
    uint64_t total_allocations;
    uint64_t allocation_failures;
    uint64_t total_frees;
    uint64_t rejected_writes;
    uint64_t stored_records;
    uint64_t new_records;
    uint64_t pending_records;
    uint64_t dropped_ram_full;
    uint64_t dropped_disk_cap;
    uint64_t dropped_corrupt;
    uint64_t disk_bytes;
    uint64_t disk_records;
    uint64_t records_recovered;
    uint64_t bytes_written;
    uint32_t disk_files;
    uint8_t disk_full;
    uint8_t disk_error;
    uint8_t powering_down;
    uint8_t utc_available;
} mm2_core_stats_t;

/* ---- lifecycle */

/* mm2_core_init starts the library (NULL = everything from the
 * environment). Errors: INVALID_STATE (already running), INVALID_PARAMETER
 * (unknown platform or policy, pool over the profile's budget, a directory
 * on a profile without disk tier), BACKEND_UNAVAILABLE, INIT_ERROR. */
mm2_core_rc_t mm2_core_init(mm2_core_config_t *config);

/* mm2_core_ready is 1 when writes are accepted (running, UTC known, not
 * powering down), else 0. */
int32_t mm2_core_ready(void);

/* mm2_core_close powers down (timeout_ms, 0 = 60,000) and closes; every
 * reference issued before becomes stale. The disk backend keeps every
 * unacknowledged record for the next init. Errors: NOT_INITIALIZED,
 * TIMEOUT, DISK_FULL, IO_ERROR (closed in every case). */
mm2_core_rc_t mm2_core_close(uint32_t timeout_ms);

/* mm2_core_power_down spools everything to disk (disk backend) within
 * timeout_ms (0 = 60,000) and refuses writes from then on; reads, ACK and
 * NACK keep working. A second call with nothing acknowledged since returns
 * at once. Errors: NOT_INITIALIZED, TIMEOUT, DISK_FULL, IO_ERROR. */
mm2_core_rc_t mm2_core_power_down(uint32_t timeout_ms);

/* mm2_core_power_abort resumes writes. Errors: NOT_INITIALIZED,
 * INVALID_STATE (no power-down in progress). */
mm2_core_rc_t mm2_core_power_abort(void);

/* mm2_core_set_utc_available: nonzero = UTC known (wiced/stm32 gate). */
mm2_core_rc_t mm2_core_set_utc_available(int32_t available);

/* mm2_core_tick is the periodic work (disk interval checkpoint, disk retry). */
mm2_core_rc_t mm2_core_tick(void);

/* mm2_core_stats fills *out. Errors: NOT_INITIALIZED, INVALID_PARAMETER. */
mm2_core_rc_t mm2_core_stats(mm2_core_stats_t *out);

/* mm2_core_check verifies every invariant of the manager. Errors:
 * NOT_INITIALIZED, CORRUPTED. */
mm2_core_rc_t mm2_core_check(void);

/* mm2_core_discard_all erases every record of every sensor (pending ones
 * included, RAM and disk) and stores how many in *records (may be NULL). */
mm2_core_rc_t mm2_core_discard_all(uint64_t *records);

/* ---- sensors */

/* mm2_core_configure declares (source, id): sample_rate 0 = EVT, else a TSD
 * period in ms. Configuring it again with the same rate returns the same
 * reference and activates it. Errors: NOT_INITIALIZED, INVALID_PARAMETER,
 * KIND_MISMATCH (exists with another rate), OUT_OF_MEMORY (table full). */
mm2_core_rc_t mm2_core_configure(uint32_t source, uint32_t id, uint32_t sample_rate, mm2_ref_t *ref);

/* mm2_core_set_active activates (1) or deactivates (0) a sensor. A
 * deactivated sensor refuses writes and reads with MM2_CORE_INACTIVE; its
 * data stays, ACK, NACK and counts keep working. */
mm2_core_rc_t mm2_core_set_active(mm2_ref_t ref, uint32_t source, uint32_t id, int32_t active);

/* mm2_core_sensor_info fills *out (NULL: only validates the reference).
 * With detail 0 only the counts, active and sample_rate are filled (the
 * cheap path for the upload loop); otherwise every field. */
mm2_core_rc_t mm2_core_sensor_info(mm2_ref_t ref, uint32_t source, uint32_t id, int32_t detail,
                                   mm2_core_counts_t *out);

/* ---- writes: errors NOT_INITIALIZED, INVALID_PARAMETER, INVALID_ENTRY,
 * INACTIVE, KIND_MISMATCH, UTC_NOT_AVAILABLE, POWERING_DOWN, OUT_OF_MEMORY,
 * and from the disk backend DISK_FULL / IO_ERROR. */

/* mm2_core_write_tsd appends a sample to a TSD sensor (system clock). */
mm2_core_rc_t mm2_core_write_tsd(mm2_ref_t ref, uint32_t source, uint32_t id, uint32_t value);

/* mm2_core_write_evt appends an event at utc_ms (0 is a valid time). */
mm2_core_rc_t mm2_core_write_evt(mm2_ref_t ref, uint32_t source, uint32_t id, uint32_t value, uint64_t utc_ms);

/* mm2_core_write_t is one sample of a batch (mm2_core_write_batch): the
 * sensor as for the other calls (ref, source, id), the value and its time
 * in UTC ms. */
typedef struct mm2_core_write {
    mm2_ref_t ref;
    uint32_t source;
    uint32_t id;
    uint32_t value;
    uint64_t utc_ms; /* TSD: when it was sampled; EVT: when it happened */
} mm2_core_write_t;

/* mm2_core_write_batch stores the n samples of w in their order in one call
 * under one lock: what a firmware that gathers samples (one per signal of a
 * bus cycle, or many of one signal) calls instead of one write per sample.
 * Samples of several sensors may be mixed in any order; each sensor's are
 * numbered in the order they come. Each sample goes to its sensor as that
 * sensor's kind: an EVT sensor's as mm2_core_write_evt stores it at utc_ms
 * (0 is a valid time), a TSD sensor's as mm2_core_write_tsd stores one taken
 * at utc_ms (its stored time is its period slot's when utc_ms is within
 * half a period of it); so a batch has no KIND_MISMATCH.
 *
 * Every sample is checked before anything is stored: a zero, foreign or
 * stale reference (INVALID_ENTRY), a source out of range or utc_ms >=
 * 2^63 (INVALID_PARAMETER), a deactivated sensor (INACTIVE) refuses the
 * whole batch, nothing written, *stored = 0. So do NOT_INITIALIZED,
 * POWERING_DOWN and UTC_NOT_AVAILABLE. Then the samples are stored in turn;
 * *stored gets how many were. An error part-way (OUT_OF_MEMORY when the
 * pool is full, DISK_FULL, IO_ERROR) leaves w[0..*stored-1] stored, readable
 * and numbered, w[*stored] refused and the rest untouched, as single writes
 * stopping at the first failure would. Under MM2_CORE_SYNC_ALWAYS the batch
 * is durable when the call returns, with one sync for all of it; when that
 * sync fails the result is the disk error with *stored = n: all stored, not
 * yet durable. n = 0 stores nothing (w may be NULL) and returns what the
 * manager's state does (OK when writes are accepted). Errors:
 * INVALID_PARAMETER also for stored NULL, or w NULL with n > 0. The library
 * only reads w (not const: cgo cannot declare an export so). */
mm2_core_rc_t mm2_core_write_batch(mm2_core_write_t *w, uint32_t n, uint32_t *stored);

/* mm2_core_set_gps names the EVT sensors of source that receive positions:
 * bit i of mask set = entry i present (0 latitude, 1 longitude, 2 altitude,
 * 3 speed). Each named sensor must be configured as EVT. mask 0 removes the
 * configuration. Errors: NOT_INITIALIZED, INVALID_PARAMETER (bad source or
 * mask, a sensor named twice), INVALID_ENTRY (not configured),
 * KIND_MISMATCH (a TSD sensor). */
mm2_core_rc_t mm2_core_set_gps(uint32_t source, uint32_t mask, uint32_t lat_id, uint32_t lon_id,
                               uint32_t alt_id, uint32_t speed_id);

/* mm2_core_write_evt_gps writes the event at the system clock and the
 * position to the source's GPS sensors with the identical timestamp (all
 * five at once when all four are configured; with fewer, in one batch as
 * mm2_core_write_batch stores it: the first error ends it, what was written
 * before it stays). */
mm2_core_rc_t mm2_core_write_evt_gps(mm2_ref_t ref, uint32_t source, uint32_t id, uint32_t value,
                                     float lat, float lon, float alt, float speed);

/* mm2_core_write_gps writes the position alone to the source's GPS sensors
 * at utc_ms (0 = now), in one batch. Errors: as the writes; NO_DATA when
 * the source has no GPS configuration. */
mm2_core_rc_t mm2_core_write_gps(uint32_t source, uint64_t utc_ms, float lat, float lon, float alt,
                                 float speed);

/* ---- reads */

/* mm2_core_read fills up to n of the oldest unread records into samples
 * (and their sequence numbers into sequences, unless NULL), marks them
 * pending and stores the number in *filled. Repeated reads accumulate
 * pending records. Errors: NOT_INITIALIZED, INVALID_PARAMETER (samples or
 * filled NULL), INVALID_ENTRY, INACTIVE, NO_DATA (nothing unread or n = 0;
 * *filled = 0), disk errors. *filled is 0 on every error. */
mm2_core_rc_t mm2_core_read(mm2_ref_t ref, uint32_t source, uint32_t id, mm2_core_sample_t *samples,
                            uint64_t *sequences, uint32_t n, uint32_t *filled);

/* mm2_core_peek is mm2_core_read from the start-th unread record (0 = the
 * next read's) that marks nothing. Errors: as mm2_core_read (NO_DATA when
 * fewer than start + 1 records are unread). */
mm2_core_rc_t mm2_core_peek(mm2_ref_t ref, uint32_t source, uint32_t id, uint32_t start,
                            mm2_core_sample_t *samples, uint64_t *sequences, uint32_t n, uint32_t *filled);

/* mm2_core_ack (ACK) erases exactly the pending records; mm2_core_nack
 * (NACK) makes them unread again (the next reads return them in order with
 * the same sequence numbers). *count (may be NULL) gets how many. Errors:
 * NOT_INITIALIZED, INVALID_ENTRY, NO_DATA (nothing pending), disk errors. */
mm2_core_rc_t mm2_core_ack(mm2_ref_t ref, uint32_t source, uint32_t id, uint32_t *count);
mm2_core_rc_t mm2_core_nack(mm2_ref_t ref, uint32_t source, uint32_t id, uint32_t *count);

#ifdef __cplusplus
}
#endif

#endif /* MM2_CORE_H */
