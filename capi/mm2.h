/*
 * mm2.h - the iMatrix Memory Manager v2 API of libmm2.a.
 *
 * libmm2.a is the Go package github.com/mm2go/mm2 built as a C archive
 * (go build -buildmode=c-archive -o libmm2.a ./capi). This header is written
 * by hand and is the only header a C program needs; the header that cgo
 * generates beside the archive is not required.
 *
 * Linking: see docs/legacy.md (gcc ... libmm2.a -lpthread, or pkg-config
 * mm2, or the CMake snippet there).
 *
 * Model. An upload source (imatrix_upload_source_t) and a sensor id
 * (imx_control_sensor_block_t.id) name one stream: an independent FIFO queue
 * of records. A sensor with sample_rate > 0 is TSD (time-series data: fixed
 * period in ms, timestamps derived from the period); sample_rate == 0 is EVT
 * (each record carries its own UTC timestamp). Every record gets a
 * per-stream sequence number (1, 2, 3, ...; never reused), returned by every
 * read, so duplicates and gaps are visible downstream.
 *
 * Delivery is at-least-once: a read marks records pending; ACK
 * (imx_erase_all_pending) erases exactly the pending records; NACK
 * (imx_revert_all_pending) makes them unread again, and the next read returns
 * them again in the same order with the same sequence numbers.
 *
 * Handles. imx_configure_sensor fills control_sensor_data_t with a handle, so
 * no call after it looks the sensor up. Every sensor call takes
 * (upload_source, csb, csd, ...) and checks that the handle was issued by the
 * running library instance for exactly (upload_source, csb->id); a zeroed,
 * copied or stale csd is refused with IMX_INVALID_ENTRY.
 *
 * Thread safety. Unless a function says otherwise it may be called from any
 * thread at any time, concurrently with any other function: the library
 * serialises its state with one internal lock (the Go runtime starts its own
 * threads; no signal handlers are needed from the caller). Each sensor should
 * have one reader/acker at a time: a read, its ACK and its NACK act on "the
 * pending records of the sensor", whoever read them. Functions never block
 * except imx_power_event_detected and imx_memory_manager_shutdown (bounded by
 * their timeout) and the short internal lock.
 *
 * Errors. Every imx_result_t function returns IMX_SUCCESS (0) or one of the
 * negative codes below, and changes nothing when it fails - except
 * IMX_IO_ERROR and IMX_DISK_FULL from the disk backend, which any write,
 * ACK or NACK may also return (see their descriptions). Functions that
 * return counts return 0 on any error (use imx_get_sensor_counts to tell an
 * error from an empty sensor). Nothing aborts the host process: NULL
 * pointers, out-of-range sources, unconfigured sensors and wrong kinds are
 * error codes, and an internal fault is caught and returned as IMX_ERROR.
 */
#ifndef MM2_H
#define MM2_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- results */

/* imx_result_t is the return code of every call that can fail. */
typedef int32_t imx_result_t;

enum {
    IMX_SUCCESS = 0,
    /* An internal fault was caught at the library boundary (a bug: please
     * report it). The state of the library is unchanged or consistent. */
    IMX_ERROR = -1,
    /* No room: the sector pool holds only pending data (or the overflow
     * policy is MM2_OVERFLOW_REJECT_NEW and the pool is full), or the stream
     * table is full. Nothing was stored. ACK pending data, then retry. */
    IMX_OUT_OF_MEMORY = -2,
    /* A NULL pointer, an upload source >= IMX_UPLOAD_NO_SOURCES, a bad
     * configuration value, an ACK count that differs from the pending count. */
    IMX_INVALID_PARAMETER = -3,
    /* The sensor is not configured by this library instance (zeroed, stale
     * or foreign csd, or csd issued for another source or sensor id), or it
     * was deactivated (writes only). */
    IMX_INVALID_ENTRY = -4,
    /* The power-down did not finish within its timeout. */
    IMX_TIMEOUT = -5,
    /* Nothing to read, peek, ACK or NACK. Not a fault. */
    IMX_NO_DATA = -6,
    /* The manager could not be created for another reason. */
    IMX_INIT_ERROR = -7,
    /* imx_memory_manager_init was not called, or the library was shut down. */
    IMX_NOT_INITIALIZED = -8,
    /* A TSD write to an EVT sensor or the reverse, or a configure that
     * changes an existing sensor's kind or sample_rate. Nothing stored. */
    IMX_KIND_MISMATCH = -9,
    /* wiced/stm32: writes are refused until imx_set_utc_available(1). */
    IMX_UTC_NOT_AVAILABLE = -10,
    /* Writes are refused between imx_power_event_detected and
     * handle_power_abort_recovery. Reads, ACK and NACK still work. */
    IMX_POWERING_DOWN = -11,
    /* The call does not fit the library's state: init while initialised,
     * power-abort with no power-down in progress. */
    IMX_INVALID_STATE = -12,
    /* The disk backend was requested (MM2_DIR or mm2_config_t.dir) but its
     * directory cannot be used (cannot be created, not a directory, no
     * permission, an I/O error while recovering it). */
    IMX_BACKEND_UNAVAILABLE = -13,
    /* The disk tier ran out of space (disk backend only). */
    IMX_DISK_FULL = -14,
    /* imx_validate_sector_chains found invariant violations. */
    IMX_CORRUPTED = -15,
    /* Disk backend: an I/O error (mm2_stats_t.disk_error is set while it
     * lasts). The record or ACK may already have taken effect in RAM; the
     * library keeps working and retries the disk on later calls. */
    IMX_IO_ERROR = -16
};

/* imx_result_string returns a static, constant description of a code
 * ("IMX_NO_DATA: nothing to read ..."). Never NULL. Thread-safe. */
const char *imx_result_string(imx_result_t result);

/* ---------------------------------------------------------------- types */

/* imatrix_upload_source_t is the destination of a sensor's data, in upload
 * rotation order. Values 4..7 are valid unnamed sources. */
typedef enum {
    IMX_UPLOAD_GATEWAY = 0,
    IMX_UPLOAD_HOSTED_DEVICE = 1,
    IMX_UPLOAD_BLE_DEVICE = 2,
    IMX_UPLOAD_CAN_DEVICE = 3,
    IMX_UPLOAD_NO_SOURCES = 8 /* the number of sources; not a valid source */
} imatrix_upload_source_t;

/* imx_control_sensor_block_t is a sensor's configuration. Only id and
 * sample_rate are read by the library; it never writes to it. */
typedef struct imx_control_sensor_block {
    uint32_t id;          /* sensor id, unique within its upload source */
    uint32_t sample_rate; /* TSD period in ms; 0 = EVT (event sensor) */
} imx_control_sensor_block_t;

/* control_sensor_data_t is a sensor's run-time data. The library writes it
 * in imx_configure_sensor (and imx_init_gps_config_for_source) and only
 * reads it afterwards. Zero it before the first configure; do not modify it. */
typedef struct control_sensor_data {
    uint32_t mm2_handle;   /* index + 1 of the sensor in the library's table; 0 = none */
    uint32_t mm2_instance; /* the library instance that issued the handle */
} control_sensor_data_t;

/* imx_data_32_t is one 32-bit sample; the library stores its raw bits. */
typedef union {
    uint32_t uint_32bit;
    int32_t int_32bit;
    float float_32bit;
} imx_data_32_t;

/* imx_utc_time_ms_t is UTC time in milliseconds since 1970-01-01. */
typedef uint64_t imx_utc_time_ms_t;

/* imx_time_t is a millisecond tick count, as in iMatrix. */
typedef uint32_t imx_time_t;

/* tsd_evt_data_t is one record as imx_read_next_tsd_evt and
 * imx_peek_next_tsd_evt return it. */
typedef struct tsd_evt_data {
    uint32_t value;               /* raw 32 bits, as written */
    imx_utc_time_ms_t utc_time_ms; /* TSD: derived from the period; EVT: as written */
    uint64_t sequence;            /* per stream, 1 for the first record, +1 each */
} tsd_evt_data_t;

/* tsd_evt_value_t is one record as imx_read_bulk_samples returns it. */
typedef struct tsd_evt_value {
    uint32_t value;
    imx_utc_time_ms_t timestamp; /* UTC ms */
    uint64_t sequence;
} tsd_evt_value_t;

/* Overflow policies of mm2_config_t: what a write does when the pool is
 * full and no disk tier takes new sectors. */
enum {
    /* Free the oldest sector that holds no pending record (the writing
     * sensor's own first, then the oldest overall); the dropped records are
     * counted in mm2_stats_t. If only pending data is left: IMX_OUT_OF_MEMORY. */
    MM2_OVERFLOW_DROP_OLDEST = 0,
    /* Refuse the write with IMX_OUT_OF_MEMORY and keep all stored data. */
    MM2_OVERFLOW_REJECT_NEW = 1
};

/* Sync policies of mm2_config_t (disk backend): what a sudden crash may
 * lose. See docs/durability.md. */
enum {
    /* Sync only at power-down and shutdown (least flash wear, the original's
     * behaviour): a crash loses what was written since the last of them. */
    MM2_SYNC_ON_POWER_DOWN = 0,
    /* Checkpoint every sync_interval_ms (at the next write or ACK after it is
     * due): a crash loses at most about one interval. */
    MM2_SYNC_INTERVAL = 1,
    /* Every write and ACK is durable before it returns (slowest). */
    MM2_SYNC_ALWAYS = 2
};

/* mm2_config_t chooses the platform profile and the backend. A NULL string
 * falls back to the environment variable named beside it, then to the
 * default. Zero-initialise it, then set what you need. The library copies
 * what it needs; it never keeps the pointers. */
typedef struct mm2_config {
    const char *platform;      /* "linux" | "wiced" | "stm32" (any case);
                                  NULL: MM2_PLATFORM, else "linux" */
    const char *dir;           /* disk backend directory (linux only); "" = mock
                                  (RAM only); NULL: MM2_DIR, else "" */
    uint32_t pool_size;        /* sector pool bytes; 0 = the profile's (64 KB linux, 4 KB MCUs) */
    uint32_t overflow;         /* MM2_OVERFLOW_DROP_OLDEST (0) or MM2_OVERFLOW_REJECT_NEW */
    uint32_t sync_policy;      /* MM2_SYNC_* (0 = on power-down); ignored by the mock backend */
    uint32_t sync_interval_ms; /* MM2_SYNC_INTERVAL only: > 0 */
} mm2_config_t;

/* Pressure levels of mm2_stats_t.pressure, by pool use. */
enum {
    MM2_PRESSURE_NORMAL = 0,   /* below 60 % */
    MM2_PRESSURE_WARNING = 1,  /* 60-79 % */
    MM2_PRESSURE_CRITICAL = 2  /* 80 % and above */
};

/* mm2_stats_t is a snapshot of the whole manager (imx_get_memory_stats). */
typedef struct mm2_stats {
    char platform[8];                  /* "linux", "wiced" or "stm32", NUL-terminated */
    char backend[8];                   /* "mock" or "disk", NUL-terminated */
    uint32_t total_sectors;
    uint32_t free_sectors;
    uint32_t used_sectors;
    uint32_t sector_size;              /* bytes */
    uint32_t utilization_percent;      /* used * 100 / total, rounded down */
    uint32_t pressure;                 /* MM2_PRESSURE_* */
    uint32_t space_efficiency_percent; /* sample bytes / bytes of used sectors (75 in the original) */
    uint32_t configured_sensors;
    uint32_t active_sensors;           /* sensors holding unacknowledged records */
    uint32_t footprint_bytes;          /* every byte the manager holds */
    uint64_t total_allocations;        /* sectors allocated */
    uint64_t allocation_failures;
    uint64_t total_frees;              /* sectors freed */
    uint64_t rejected_writes;          /* writes refused with IMX_OUT_OF_MEMORY */
    uint64_t stored_records;           /* records in the pool */
    uint64_t new_records;              /* unread, all sensors */
    uint64_t pending_records;          /* read, not yet acknowledged, all sensors */
    uint64_t dropped_ram_full;         /* records dropped because the pool was full */
    uint64_t dropped_disk_cap;         /* records dropped at the disk cap */
    uint64_t dropped_corrupt;          /* records lost to damaged data at recovery */
    /* Disk tier (0 with the mock backend). */
    uint64_t disk_bytes;               /* bytes in segment files */
    uint32_t disk_files;               /* segment files */
    uint64_t disk_records;             /* unacknowledged records on disk */
    uint64_t records_recovered;        /* unacknowledged records found at init */
    uint64_t records_skipped;          /* records in damaged frames skipped at init */
    uint64_t bytes_written;            /* bytes written to disk (flash wear) */
    uint64_t syncs;                    /* fsyncs of files and directories */
    uint8_t disk_full;                 /* 1 while the disk is full (writes use the RAM policy) */
    uint8_t disk_error;                /* 1 while a disk error lasts */
    uint8_t powering_down;             /* 1 between a power event and its abort */
    uint8_t utc_available;
} mm2_stats_t;

/* mm2_counts_t is one sensor's record counts (imx_get_sensor_counts). */
typedef struct mm2_counts {
    uint32_t new_count;     /* unread */
    uint32_t pending_count; /* read, not yet acknowledged */
    uint32_t total_count;   /* new + pending */
} mm2_counts_t;

/* ---------------------------------------------------------------- lifecycle */

/* imx_memory_manager_init starts the library with the profile named by the
 * environment variable MM2_PLATFORM (linux, wiced or stm32; default linux)
 * and the backend chosen by MM2_DIR: unset or empty is the mock backend (RAM
 * only, nothing touches the filesystem); a directory is the disk backend
 * rooted there, which recovers every unacknowledged record the directory
 * holds (damaged frames are skipped and counted in mm2_stats_t, never an
 * error). pool_size is the sector pool in bytes; 0 takes the profile's.
 * Sensors must be configured again after init; recovered sensors keep their
 * records and sequence numbers. Errors: IMX_INVALID_STATE (already
 * initialised), IMX_INVALID_PARAMETER (unknown platform, pool_size out of
 * range or over the profile's memory budget, a disk directory on a profile
 * without a disk tier), IMX_BACKEND_UNAVAILABLE (the directory cannot be
 * used), IMX_INIT_ERROR. Serialised with shutdown; call it before any
 * other call. */
imx_result_t imx_memory_manager_init(uint32_t pool_size);

/* imx_memory_manager_init_config is imx_memory_manager_init with an explicit
 * configuration (NULL = all defaults, i.e. the environment). The structure is
 * only read. Errors: as imx_memory_manager_init, and IMX_INVALID_PARAMETER
 * for an unknown overflow or sync policy or a zero sync interval. */
imx_result_t imx_memory_manager_init_config(mm2_config_t *config);

/* imx_memory_manager_ready returns 1 when writes are accepted: initialised,
 * UTC available (wiced/stm32) and no power-down in progress; else 0. */
int imx_memory_manager_ready(void);

/* imx_memory_manager_shutdown powers down (as imx_power_event_detected, with
 * timeout_ms as the deadline; 0 = 60,000 ms), then closes the library. Every
 * later call returns IMX_NOT_INITIALIZED until imx_memory_manager_init, and
 * every csd handle issued before becomes stale (IMX_INVALID_ENTRY). The disk
 * backend keeps every unacknowledged record (pending ones included, which
 * become unread again) for the next init on the same directory; the mock
 * backend discards everything. Calls running in other threads at that
 * moment finish or return IMX_NOT_INITIALIZED. Errors: IMX_NOT_INITIALIZED,
 * IMX_TIMEOUT, IMX_DISK_FULL, IMX_IO_ERROR; the library is closed in every
 * case. */
imx_result_t imx_memory_manager_shutdown(uint32_t timeout_ms);

/* imx_sat_init (v1) initialises the library with the defaults
 * (imx_memory_manager_init(0)); unlike it, it succeeds when the library is
 * already initialised. Errors: as imx_memory_manager_init. */
imx_result_t imx_sat_init(void);

/* ---------------------------------------------------------------- sensors */

/* imx_configure_sensor declares the sensor (upload_source, csb->id) with
 * kind and period from csb->sample_rate (0 = EVT, else a TSD period in ms)
 * and writes its handle into csd. The sensor is active afterwards.
 * Configuring the same sensor again with the same sample_rate is allowed
 * and returns the same handle. Errors: IMX_NOT_INITIALIZED,
 * IMX_INVALID_PARAMETER (NULL, bad source), IMX_KIND_MISMATCH (the sensor
 * exists with another sample_rate), IMX_OUT_OF_MEMORY (the stream table is
 * full: 2,048 sensors on linux, 100 on MCUs). */
imx_result_t imx_configure_sensor(imatrix_upload_source_t upload_source,
                                  imx_control_sensor_block_t *csb,
                                  control_sensor_data_t *csd);

/* imx_activate_sensor lets writes to a deactivated sensor succeed again.
 * Errors: IMX_NOT_INITIALIZED, IMX_INVALID_PARAMETER, IMX_INVALID_ENTRY. */
imx_result_t imx_activate_sensor(imatrix_upload_source_t upload_source,
                                 imx_control_sensor_block_t *csb,
                                 control_sensor_data_t *csd);

/* imx_deactivate_sensor makes writes to the sensor fail with
 * IMX_INVALID_ENTRY. Its stored data stays readable and ACK/NACK keep
 * working, so the uploader can drain it. Errors: as imx_activate_sensor. */
imx_result_t imx_deactivate_sensor(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb,
                                   control_sensor_data_t *csd);

/* ---------------------------------------------------------------- writes */

/* imx_write_tsd appends a sample to a TSD sensor, stamped with the system
 * clock. A sample more than half a period away from its derived slot starts
 * a new sector, so every derived timestamp is within +-period/2 of the real
 * write time. Errors: IMX_NOT_INITIALIZED, IMX_INVALID_PARAMETER,
 * IMX_INVALID_ENTRY, IMX_KIND_MISMATCH (EVT sensor), IMX_UTC_NOT_AVAILABLE,
 * IMX_POWERING_DOWN, IMX_OUT_OF_MEMORY. */
imx_result_t imx_write_tsd(imatrix_upload_source_t upload_source,
                           imx_control_sensor_block_t *csb,
                           control_sensor_data_t *csd,
                           imx_data_32_t value);

/* imx_write_evt appends an event with its own timestamp (0 is a valid
 * timestamp). Errors: as imx_write_tsd (IMX_KIND_MISMATCH for a TSD sensor). */
imx_result_t imx_write_evt(imatrix_upload_source_t upload_source,
                           imx_control_sensor_block_t *csb,
                           control_sensor_data_t *csd,
                           imx_data_32_t value,
                           imx_utc_time_ms_t utc_time_ms);

/* imx_init_gps_config_for_source names, among the no_sensors entries of the
 * csb/csd arrays, the four EVT sensors of upload_source that receive the
 * position written by imx_write_event_with_gps, configures them (filling
 * their csd) and activates them. Each entry index must be in 0..no_sensors-1,
 * the four distinct, with sample_rate 0. Errors: IMX_NOT_INITIALIZED,
 * IMX_INVALID_PARAMETER (NULL, bad source, bad or repeated index),
 * IMX_KIND_MISMATCH (a named sensor is TSD), IMX_OUT_OF_MEMORY. */
imx_result_t imx_init_gps_config_for_source(imatrix_upload_source_t upload_source,
                                            imx_control_sensor_block_t *csb,
                                            control_sensor_data_t *csd,
                                            uint16_t no_sensors,
                                            int16_t latitude_entry,
                                            int16_t longitude_entry,
                                            int16_t altitude_entry,
                                            int16_t speed_entry);

/* imx_write_event_with_gps writes an event stamped with the system clock
 * and, when the source has a GPS configuration, the four position values
 * (as float bits) to its GPS sensors with the identical timestamp: all five
 * or none. Errors: as imx_write_evt. */
imx_result_t imx_write_event_with_gps(imatrix_upload_source_t upload_source,
                                      imx_control_sensor_block_t *csb,
                                      control_sensor_data_t *csd,
                                      imx_data_32_t value,
                                      float latitude, float longitude,
                                      float altitude, float speed);

/* imx_set_gps_fix records the current position used by the v1 call
 * write_tsd_evt(..., add_gps_location = true). Errors: IMX_NOT_INITIALIZED. */
imx_result_t imx_set_gps_fix(float latitude, float longitude, float altitude, float speed);

/* ---------------------------------------------------------------- reads */

/* imx_read_next_tsd_evt returns the oldest unread record of the sensor and
 * marks it pending. Errors: IMX_NOT_INITIALIZED, IMX_INVALID_PARAMETER
 * (including data_out NULL), IMX_INVALID_ENTRY, IMX_NO_DATA. */
imx_result_t imx_read_next_tsd_evt(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb,
                                   control_sensor_data_t *csd,
                                   tsd_evt_data_t *data_out);

/* imx_read_bulk_samples fills array with up to min(array_size,
 * requested_count, 65535) of the oldest unread records, marks them pending
 * and stores how many in *filled_count. It allocates nothing. Errors:
 * IMX_NOT_INITIALIZED, IMX_INVALID_PARAMETER (array or filled_count NULL,
 * or a zero size or count), IMX_INVALID_ENTRY, IMX_NO_DATA (*filled_count
 * = 0, array untouched). On every error *filled_count is 0 when
 * filled_count is not NULL. */
imx_result_t imx_read_bulk_samples(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb,
                                   control_sensor_data_t *csd,
                                   tsd_evt_value_t *array,
                                   uint32_t array_size,
                                   uint32_t requested_count,
                                   uint16_t *filled_count);

/* imx_peek_next_tsd_evt returns the oldest unread record (the one the next
 * read returns) and changes nothing. Errors: as imx_read_next_tsd_evt. */
imx_result_t imx_peek_next_tsd_evt(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb,
                                   control_sensor_data_t *csd,
                                   tsd_evt_data_t *data_out);

/* ---------------------------------------------------------------- ACK / NACK */

/* imx_erase_all_pending (ACK) erases exactly the sensor's pending records
 * and frees every sector that becomes empty. record_count 0 means "all
 * pending"; otherwise it must equal the pending count or nothing is erased
 * (IMX_INVALID_PARAMETER) - a guard against acknowledging records the upload
 * did not contain. Errors: IMX_NOT_INITIALIZED, IMX_INVALID_PARAMETER,
 * IMX_INVALID_ENTRY, IMX_NO_DATA (nothing pending). */
imx_result_t imx_erase_all_pending(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb,
                                   control_sensor_data_t *csd,
                                   uint32_t record_count);

/* imx_revert_all_pending (NACK) makes the sensor's pending records unread
 * again: the next reads return them again, in the same order, with the same
 * sequence numbers. Errors: IMX_NOT_INITIALIZED, IMX_INVALID_PARAMETER,
 * IMX_INVALID_ENTRY, IMX_NO_DATA (nothing pending). */
imx_result_t imx_revert_all_pending(imatrix_upload_source_t upload_source,
                                    imx_control_sensor_block_t *csb,
                                    control_sensor_data_t *csd);

/* ---------------------------------------------------------------- counts */

/* imx_has_pending_data returns true when the sensor has pending records;
 * false when it has none or on any error. */
bool imx_has_pending_data(imatrix_upload_source_t upload_source,
                          imx_control_sensor_block_t *csb,
                          control_sensor_data_t *csd);

/* imx_get_new_sample_count returns the sensor's unread records; 0 when it
 * has none or on any error. */
uint32_t imx_get_new_sample_count(imatrix_upload_source_t upload_source,
                                  imx_control_sensor_block_t *csb,
                                  control_sensor_data_t *csd);

/* imx_get_total_sample_count returns unread + pending records; 0 when the
 * sensor has none or on any error. */
uint32_t imx_get_total_sample_count(imatrix_upload_source_t upload_source,
                                    imx_control_sensor_block_t *csb,
                                    control_sensor_data_t *csd);

/* imx_get_sensor_counts fills *counts_out with the sensor's counts. Errors:
 * IMX_NOT_INITIALIZED, IMX_INVALID_PARAMETER, IMX_INVALID_ENTRY. */
imx_result_t imx_get_sensor_counts(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb,
                                   control_sensor_data_t *csd,
                                   mm2_counts_t *counts_out);

/* ---------------------------------------------------------------- diagnostics */

/* imx_get_memory_stats fills *stats_out with a snapshot of the manager. It
 * walks every sensor: not for the hot path. Errors: IMX_NOT_INITIALIZED,
 * IMX_INVALID_PARAMETER (NULL). */
imx_result_t imx_get_memory_stats(mm2_stats_t *stats_out);

/* imx_validate_sector_chains walks every sector and sensor of the manager
 * and verifies every invariant (each sector free or in exactly one chain,
 * chains acyclic and single-typed, counts matching the chains). With csb
 * and csd both NULL it checks the manager only; otherwise it also checks
 * that they name a configured sensor of upload_source. It allocates and
 * walks everything: for tests and diagnostics. Errors: IMX_NOT_INITIALIZED,
 * IMX_INVALID_PARAMETER (only one of csb/csd NULL, bad source),
 * IMX_INVALID_ENTRY, IMX_CORRUPTED (a violation was found). */
imx_result_t imx_validate_sector_chains(imatrix_upload_source_t upload_source,
                                        imx_control_sensor_block_t *csb,
                                        control_sensor_data_t *csd);

/* ---------------------------------------------------------------- power and maintenance */

/* imx_power_event_detected starts a power-down: it spools all RAM-resident
 * unacknowledged data and the read/ACK positions to disk (disk backend)
 * within 60 s, and from then on writes fail with IMX_POWERING_DOWN; reads,
 * ACK and NACK still work. With the mock backend there is nothing to spool
 * and it returns at once. It blocks until done. Calling it again while
 * powering down is allowed. Errors: IMX_NOT_INITIALIZED, IMX_TIMEOUT,
 * IMX_DISK_FULL, IMX_IO_ERROR (the data stays in RAM). */
imx_result_t imx_power_event_detected(void);

/* handle_power_abort_recovery ends a power-down (power came back) and
 * resumes writes, with nothing duplicated or lost. Errors:
 * IMX_NOT_INITIALIZED, IMX_INVALID_STATE (no power-down in progress). */
imx_result_t handle_power_abort_recovery(void);

/* imx_set_utc_available tells the wiced/stm32 profiles whether UTC is known
 * (nonzero = yes); before it is, writes fail with IMX_UTC_NOT_AVAILABLE. The
 * linux profile always has UTC and ignores 0. Errors: IMX_NOT_INITIALIZED. */
imx_result_t imx_set_utc_available(int utc_available);

/* process_memory_manager is the periodic maintenance call (call it from the
 * main loop; current_time is informational). Drops, frees and disk spills
 * happen inside the write or ACK that causes them; this call does the disk
 * backend's due interval checkpoint and retries a failed disk, so quiet
 * periods are covered too. Errors: IMX_NOT_INITIALIZED, IMX_IO_ERROR. */
imx_result_t process_memory_manager(imx_time_t current_time);

/* ---------------------------------------------------------------- v1 names
 *
 * The v1 interface addressed sensors as entries of the csb/csd arrays. These
 * calls act on csb[entry]/csd[entry]; the caller guarantees entry is inside
 * the arrays (as in v1). They return imx_result_t where v1 returned void. */

/* write_tsd_evt writes value to csb[entry]: a TSD sample when its
 * sample_rate > 0, else an event stamped with the clock; with
 * add_gps_location an event also writes the position of imx_set_gps_fix
 * (imx_write_event_with_gps). Errors: as imx_write_tsd / imx_write_evt. */
imx_result_t write_tsd_evt(imatrix_upload_source_t upload_source,
                           imx_control_sensor_block_t *csb,
                           control_sensor_data_t *csd,
                           uint16_t entry, uint32_t value, bool add_gps_location);

/* write_tsd_evt_time writes value to csb[entry] with utc_time in SECONDS
 * (v1's unit): an event at utc_time * 1000 ms. For a TSD sensor the time is
 * derived from the period and utc_time is ignored. Errors: as write_tsd_evt. */
imx_result_t write_tsd_evt_time(imatrix_upload_source_t upload_source,
                                imx_control_sensor_block_t *csb,
                                control_sensor_data_t *csd,
                                uint16_t entry, uint32_t value, uint32_t utc_time);

/* read_tsd_evt reads the next record of csb[entry] into *value and marks it
 * pending (imx_read_next_tsd_evt). Errors: as imx_read_next_tsd_evt. */
imx_result_t read_tsd_evt(imatrix_upload_source_t upload_source,
                          imx_control_sensor_block_t *csb,
                          control_sensor_data_t *csd,
                          uint16_t entry, uint32_t *value);

/* erase_tsd_evt acknowledges the pending records of csb[entry]
 * (imx_erase_all_pending with record_count 0). Errors: as that call. */
imx_result_t erase_tsd_evt(imatrix_upload_source_t upload_source,
                           imx_control_sensor_block_t *csb,
                           control_sensor_data_t *csd,
                           uint16_t entry);

/* revert_tsd_evt_pending_data NACKs the pending records of every entry
 * 0..no_items-1 (imx_revert_all_pending); entries with nothing pending or
 * not configured are skipped. Errors: IMX_NOT_INITIALIZED,
 * IMX_INVALID_PARAMETER (NULL, bad source). */
imx_result_t revert_tsd_evt_pending_data(imatrix_upload_source_t upload_source,
                                         imx_control_sensor_block_t *csb,
                                         control_sensor_data_t *csd,
                                         uint16_t no_items);

#ifdef __cplusplus
}
#endif

#endif /* MM2_H */
