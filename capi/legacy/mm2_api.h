/*
 * mm2_api.h - the iMatrix Memory Manager v2 API, for firmware that keeps its
 * own common.h and its call sites unchanged.
 *
 * The firmware owns common.h: imx_result_t and its enumerators,
 * imatrix_upload_source_t (IMX_UPLOAD_NO_SOURCES last), the sensor blocks
 * imx_control_sensor_block_t (csb: id, sample_rate, name) and
 * control_sensor_data_t (csd, embedding the memory manager's space as
 * csd.mmcb), imx_data_32_t, imx_utc_time_ms_t and imx_time_t. This header
 * includes it (define MM2_COMMON_H as "other.h" to include another file) and
 * defines only the memory manager's own types. The functions are
 * implemented by mm2_api.c (and the v1 names by mm2_v1.c), which the
 * firmware compiles with its own headers, over the neutral core ABI of
 * libmm2.a (mm2_core.h). docs/legacy.md is the porting guide.
 *
 * What the layer relies on in the firmware's types, by name only:
 * csb->id, csb->sample_rate (0 = event sensor), csd->mmcb (at least 8
 * bytes; the layer keeps the sensor's reference there and nowhere else),
 * csd->last_value and csd->valid (set by imx_write_evt, as the original
 * did), imx_data_32_t.uint_32bit, and the result enumerators IMX_SUCCESS,
 * IMX_ERROR, IMX_INVALID_ENTRY, IMX_INVALID_PARAMETER, IMX_OUT_OF_MEMORY,
 * IMX_NO_DATA, IMX_TIMEOUT, IMX_INIT_ERROR, IMX_FILE_ERROR. Their values
 * and every other field are the firmware's business.
 *
 * Results. Every call returns the firmware's enumerators; which one for
 * which condition is listed at each function. Common to the sensor calls:
 * IMX_INVALID_PARAMETER for a NULL csb/csd/pointer or a source outside
 * 0..IMX_UPLOAD_NO_SOURCES-1; IMX_INVALID_ENTRY for a sensor that was not
 * configured since the last init (zeroed or stale mmcb, csd of another
 * source or id) or that is deactivated (writes and reads); IMX_INIT_ERROR
 * before imx_memory_manager_init. Nothing crashes the firmware: a fault
 * inside the library is returned as IMX_ERROR.
 *
 * Threads. Every function may be called from any thread, concurrently;
 * each sensor should have one reader/acker (the upload task) at a time.
 */
#ifndef MM2_API_H
#define MM2_API_H

#ifdef MM2_COMMON_H
#include MM2_COMMON_H
#else
#include "common.h"
#endif

#include <stdbool.h>
#include <stdint.h>

#include "mm2_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tsd_evt_value_t is one record of imx_read_bulk_samples /
 * imx_peek_bulk_samples: { uint32_t value; uint64_t timestamp; } (16 bytes,
 * timestamp at 8, on armhf, arm64 and x86-64). */
typedef mm2_core_sample_t tsd_evt_value_t;

/* tsd_evt_data_t is one record of imx_read_next_tsd_evt /
 * imx_peek_next_tsd_evt (16 bytes). */
typedef struct tsd_evt_data {
    uint32_t value;        /* raw 32 bits, as written */
    uint64_t utc_time_ms;  /* TSD: derived from the period; EVT: as written */
} tsd_evt_data_t;

/* mm2_stats_t is imx_get_memory_stats' snapshot (48 bytes). */
typedef struct mm2_stats {
    uint32_t total_sectors;
    uint32_t free_sectors;
    uint32_t active_sensors;            /* sensors holding unacknowledged records */
    uint64_t total_allocations;         /* sectors allocated */
    uint64_t allocation_failures;
    uint64_t chain_operations;          /* sectors allocated + sectors freed */
    uint32_t space_efficiency_percent;  /* sample bytes / bytes of used sectors */
} mm2_stats_t;

/* mm2_sensor_state_t is imx_get_sensor_state's view of one sensor. */
typedef struct mm2_sensor_state {
    uint32_t sensor_id;
    unsigned int active : 1;
    uint32_t ram_start_sector;  /* not exposed by mm2: 0 */
    uint32_t ram_end_sector;    /* sectors the sensor holds in the RAM pool */
    uint16_t ram_read_offset;   /* not exposed by mm2: 0 */
    uint16_t ram_write_offset;  /* not exposed by mm2: 0 */
    uint64_t total_records;     /* unread + pending */
    uint64_t last_sample_time;  /* timestamp of the oldest unacknowledged record; 0 if none */
    uint32_t pending_counts[IMX_UPLOAD_NO_SOURCES]; /* the csd's own source only */
} mm2_sensor_state_t;

/* ---- lifecycle */

/* imx_memory_manager_init starts the library: pool_size bytes of sector pool
 * (0 = the profile's), profile and backend from the environment
 * (MM2_PLATFORM: linux|wiced|stm32; MM2_DIR: disk backend directory, unset
 * or empty = RAM only). The disk backend recovers every unacknowledged
 * record at this point. Errors: IMX_ERROR (already initialised),
 * IMX_INVALID_PARAMETER (unknown platform, pool over budget),
 * IMX_FILE_ERROR (MM2_DIR unusable), IMX_INIT_ERROR. */
imx_result_t imx_memory_manager_init(uint32_t pool_size);

/* imx_memory_manager_ready: 1 when writes are accepted, else 0. */
int imx_memory_manager_ready(void);

/* imx_memory_manager_shutdown flushes for power-down (per sensor, as the
 * firmware calls it for each active sensor): the first call spools
 * everything to disk within timeout_ms (0 = 60 s) and refuses writes from
 * then on; the calls for the other sensors find nothing left to do. Reads,
 * ACK and NACK keep working; handle_power_abort_recovery resumes writes.
 * Errors: the common ones, IMX_TIMEOUT, IMX_FILE_ERROR, IMX_OUT_OF_MEMORY
 * (disk full). */
imx_result_t imx_memory_manager_shutdown(imatrix_upload_source_t upload_source,
                                         imx_control_sensor_block_t *csb,
                                         control_sensor_data_t *csd, uint32_t timeout_ms);

/* ---- sensors */

/* imx_configure_sensor declares (upload_source, csb->id), TSD with period
 * csb->sample_rate ms or EVT when 0, and writes the sensor's reference into
 * csd->mmcb. Again with the same sample_rate: the same sensor (with the disk
 * backend, a recovered sensor gets its records back). Errors: the common
 * ones, IMX_INVALID_PARAMETER (exists with another sample_rate),
 * IMX_OUT_OF_MEMORY (sensor table full). */
imx_result_t imx_configure_sensor(imatrix_upload_source_t upload_source,
                                  imx_control_sensor_block_t *csb, control_sensor_data_t *csd);

/* imx_activate_sensor / imx_deactivate_sensor: a deactivated sensor refuses
 * writes and reads with IMX_INVALID_ENTRY; its records stay, ACK, NACK and
 * the counts keep working. configure leaves a sensor active. */
imx_result_t imx_activate_sensor(imatrix_upload_source_t upload_source,
                                 imx_control_sensor_block_t *csb, control_sensor_data_t *csd);
imx_result_t imx_deactivate_sensor(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd);

/* imx_recover_sensor_disk_data: mm2 recovers the disk at init and
 * imx_configure_sensor reattaches the records, so this checks the sensor
 * and returns IMX_SUCCESS. Errors: the common ones. */
imx_result_t imx_recover_sensor_disk_data(imatrix_upload_source_t upload_source,
                                          imx_control_sensor_block_t *csb,
                                          control_sensor_data_t *csd);

/* ---- writes. Errors: the common ones, IMX_INVALID_PARAMETER (TSD write to
 * an EVT sensor or the reverse), IMX_OUT_OF_MEMORY (pool holds only pending
 * data, or disk full), IMX_ERROR (powering down; UTC not yet available on
 * wiced/stm32), IMX_FILE_ERROR (disk I/O error). */

/* imx_write_tsd appends a sample to a TSD sensor at the system clock. */
imx_result_t imx_write_tsd(imatrix_upload_source_t upload_source, imx_control_sensor_block_t *csb,
                           control_sensor_data_t *csd, imx_data_32_t value);

/* imx_write_evt appends an event at utc_time_ms and sets csd->last_value and
 * csd->valid. */
imx_result_t imx_write_evt(imatrix_upload_source_t upload_source, imx_control_sensor_block_t *csb,
                           control_sensor_data_t *csd, imx_data_32_t value,
                           imx_utc_time_ms_t utc_time_ms);

/* imx_write_event_with_gps writes the event at the system clock and the
 * position from the firmware (imx_get_latitude, imx_get_longitude,
 * imx_get_altitude, imx_get_gps_speed) to the source's GPS sensors with the
 * same timestamp; sets csd->last_value and csd->valid. */
imx_result_t imx_write_event_with_gps(imatrix_upload_source_t upload_source,
                                      imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                      imx_data_32_t value);

/* imx_write_gps_location writes the firmware's current position to the
 * source's GPS sensors at event_time (0 = now). A source without GPS
 * sensors has nothing to write: IMX_SUCCESS. */
imx_result_t imx_write_gps_location(imatrix_upload_source_t upload_source,
                                    imx_utc_time_ms_t event_time);

/* imx_init_gps_config_for_source names, by their index in the csb/csd
 * arrays of no_sensors entries, the event sensors that receive latitude,
 * longitude, altitude and speed (0xFFFF = none), configuring each.
 * Errors: the common ones, IMX_INVALID_PARAMETER (index out of range,
 * repeated, or a TSD sensor); nothing changes then. */
imx_result_t imx_init_gps_config_for_source(imatrix_upload_source_t upload_source,
                                            imx_control_sensor_block_t *csb,
                                            control_sensor_data_t *csd, uint16_t no_sensors,
                                            uint16_t latitude_entry, uint16_t longitude_entry,
                                            uint16_t altitude_entry, uint16_t speed_entry);

/* ---- reads */

/* imx_read_bulk_samples fills array with up to min(array_size,
 * requested_count, 65535) of the oldest unread records and marks them
 * pending (repeated reads accumulate pending records). Fewer than requested
 * available: IMX_SUCCESS with *filled_count the number. Nothing unread or
 * requested_count 0: IMX_NO_DATA, *filled_count 0. Errors: the common ones,
 * IMX_INVALID_PARAMETER (array or filled_count NULL, array_size 0). On
 * every error *filled_count is 0 when filled_count is not NULL. */
imx_result_t imx_read_bulk_samples(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                   tsd_evt_value_t *array, uint32_t array_size,
                                   uint32_t requested_count, uint16_t *filled_count);

/* imx_peek_bulk_samples is imx_read_bulk_samples from the start_index-th
 * unread record, marking nothing. Fewer than start_index + 1 unread:
 * IMX_NO_DATA. */
imx_result_t imx_peek_bulk_samples(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                   tsd_evt_value_t *array, uint32_t array_size,
                                   uint32_t start_index, uint32_t requested_count,
                                   uint16_t *filled_count);

/* imx_read_next_tsd_evt reads the oldest unread record and marks it
 * pending; imx_peek_next_tsd_evt returns the index-th unread record (0 =
 * the next read's) and marks nothing. Errors: the common ones,
 * IMX_INVALID_PARAMETER (data_out NULL), IMX_NO_DATA. */
imx_result_t imx_read_next_tsd_evt(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                   tsd_evt_data_t *data_out);
imx_result_t imx_peek_next_tsd_evt(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                   uint32_t index, tsd_evt_data_t *data_out);

/* imx_erase_all_pending (ACK) erases all of the sensor's pending records;
 * imx_revert_all_pending (NACK) makes them unread again, so the next reads
 * deliver them again in order (the original kept them pending and lost
 * them: see docs/legacy.md). Nothing pending: IMX_SUCCESS. Errors: the
 * common ones (a deactivated sensor can still be ACKed and NACKed),
 * IMX_FILE_ERROR. */
imx_result_t imx_erase_all_pending(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd);
imx_result_t imx_revert_all_pending(imatrix_upload_source_t upload_source,
                                    imx_control_sensor_block_t *csb, control_sensor_data_t *csd);

/* Counts: pending records exist; unread records; unread + pending. 0 / false
 * on any error. */
bool imx_has_pending_data(imatrix_upload_source_t upload_source, imx_control_sensor_block_t *csb,
                          control_sensor_data_t *csd);
uint32_t imx_get_new_sample_count(imatrix_upload_source_t upload_source,
                                  imx_control_sensor_block_t *csb, control_sensor_data_t *csd);
uint32_t imx_get_total_sample_count(imatrix_upload_source_t upload_source,
                                    imx_control_sensor_block_t *csb, control_sensor_data_t *csd);

/* ---- statistics, power and maintenance */

/* imx_get_memory_stats fills *stats_out. Errors: IMX_INIT_ERROR,
 * IMX_INVALID_PARAMETER (NULL). */
imx_result_t imx_get_memory_stats(mm2_stats_t *stats_out);

/* imx_get_sensor_state fills *state_out for one sensor. Errors: the common
 * ones, IMX_INVALID_PARAMETER (state_out NULL). */
imx_result_t imx_get_sensor_state(imatrix_upload_source_t upload_source,
                                  imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                  mm2_sensor_state_t *state_out);

/* imx_validate_sector_chains verifies every invariant of the manager; with
 * csb and csd not NULL it also checks that they name a configured sensor.
 * Errors: the common ones (only one of csb/csd NULL: IMX_INVALID_PARAMETER),
 * IMX_ERROR (a violation was found). */
imx_result_t imx_validate_sector_chains(imatrix_upload_source_t upload_source,
                                        imx_control_sensor_block_t *csb,
                                        control_sensor_data_t *csd);

/* imx_force_garbage_collection returns the sectors freed: always 0, mm2
 * frees every sector in the ACK that empties it. */
uint32_t imx_force_garbage_collection(imatrix_upload_source_t upload_source,
                                      imx_control_sensor_block_t *csb,
                                      control_sensor_data_t *csd);

/* imx_clear_all_disk_history erases every record of every sensor (RAM and
 * disk, pending included); verbose prints how many. Errors: IMX_INIT_ERROR,
 * IMX_FILE_ERROR. */
imx_result_t imx_clear_all_disk_history(int verbose);

/* process_memory_manager is the main-loop call: the disk backend's interval
 * checkpoint and disk retry (writes, drops and frees happen in the calls
 * that cause them). current_time is not used. Errors: IMX_INIT_ERROR,
 * IMX_FILE_ERROR. */
imx_result_t process_memory_manager(imx_time_t current_time);

/* imx_power_event_detected spools everything to disk (60 s window) and
 * refuses writes until handle_power_abort_recovery. */
void imx_power_event_detected(void);

/* handle_power_abort_recovery resumes writes after a power event (power
 * came back); nothing to recover is IMX_SUCCESS. Errors: IMX_INIT_ERROR. */
imx_result_t handle_power_abort_recovery(void);

/* imx_set_utc_available tells wiced/stm32 whether UTC is known (writes are
 * refused before). Errors: IMX_INIT_ERROR. */
imx_result_t imx_set_utc_available(int utc_available);

/* mm2_api_result is the firmware enumerator this layer returns for a core
 * result (for code that also calls mm2_core_* directly). */
imx_result_t mm2_api_result(mm2_core_rc_t rc);

/* ---- v1 names (mm2_v1.c, optional): entry `entry` of the csb/csd arrays,
 * upload source MM2_V1_UPLOAD_SOURCE (default IMX_UPLOAD_GATEWAY). */
imx_result_t imx_sat_init(void);
void write_tsd_evt(imx_control_sensor_block_t *csb, control_sensor_data_t *csd, uint16_t entry,
                   uint32_t value, bool add_gps_location);
void write_tsd_evt_time(imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                        uint16_t entry, uint32_t value, uint32_t utc_time);
void read_tsd_evt(imx_control_sensor_block_t *csb, control_sensor_data_t *csd, uint16_t entry,
                  uint32_t *value);
void erase_tsd_evt(imx_control_sensor_block_t *csb, control_sensor_data_t *csd, uint16_t entry);
void revert_tsd_evt_pending_data(imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                 uint16_t no_items);
void erase_tsd_evt_pending_data(imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                uint16_t no_items);

#ifdef __cplusplus
}
#endif

#endif /* MM2_API_H */
