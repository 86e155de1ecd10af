/*
 * mm2_api.c - the iMatrix Memory Manager v2 API over libmm2.a's core ABI.
 *
 * The firmware compiles this file with its own headers (common.h, through
 * mm2_api.h), so everything that depends on the firmware is resolved here,
 * by name, by the firmware's compiler: the csb and csd layouts, the result
 * enumerators and their values, the upload-source enum. libmm2.a sees only
 * fixed-width integers (mm2_core.h).
 *
 * Per-sensor state: the sensor's 8-byte core reference, kept in csd->mmcb at
 * byte offset MM2_MMCB_REF_OFFSET (default 0). The layer reads csb->id and
 * csb->sample_rate, and writes csd->last_value and csd->valid in the event
 * writes (as the original did); nothing else of the firmware's structures.
 *
 * Tuning macros (define them on the compiler command line, or in a header
 * named by MM2_CONFIG_H, e.g. -DMM2_CONFIG_H='"mm2_config.h"'):
 *   MM2_MMCB_REF_OFFSET         where in csd->mmcb the reference lives
 *   MM2_ON_COUNTS(csd, src, c)  called with the sensor's mm2_core_counts_t c
 *                               after every successful configure, write, read,
 *                               ACK and NACK of that csd (one more core call):
 *                               a firmware whose stats command reads fields of
 *                               mmcb (pending_by_source, total_records) keeps
 *                               them current here
 *   MM2_RESULT_<CONDITION>      the enumerator returned for a core condition
 *                               the firmware enum has no name for (below)
 *   MM2_NO_GPS_PROTOTYPES       the firmware's headers declare the position
 *                               functions; do not declare them here
 *   MM2_ON_EVENT_WRITTEN(csd, v) what an event write updates in csd
 */
#include <stdio.h>
#include <string.h>

#include "mm2_api.h"

#ifdef MM2_CONFIG_H
#include MM2_CONFIG_H
#endif

#ifndef MM2_MMCB_REF_OFFSET
#define MM2_MMCB_REF_OFFSET 0
#endif

/* Core conditions the firmware's enum has no name for, and the enumerator
 * each becomes. */
#ifndef MM2_RESULT_NOT_INITIALIZED
#define MM2_RESULT_NOT_INITIALIZED IMX_INIT_ERROR
#endif
#ifndef MM2_RESULT_KIND_MISMATCH
#define MM2_RESULT_KIND_MISMATCH IMX_INVALID_PARAMETER
#endif
#ifndef MM2_RESULT_UTC_NOT_AVAILABLE
#define MM2_RESULT_UTC_NOT_AVAILABLE IMX_ERROR
#endif
#ifndef MM2_RESULT_POWERING_DOWN
#define MM2_RESULT_POWERING_DOWN IMX_ERROR
#endif
#ifndef MM2_RESULT_INVALID_STATE
#define MM2_RESULT_INVALID_STATE IMX_ERROR
#endif
#ifndef MM2_RESULT_BACKEND_UNAVAILABLE
#define MM2_RESULT_BACKEND_UNAVAILABLE IMX_FILE_ERROR
#endif
#ifndef MM2_RESULT_DISK_FULL
#define MM2_RESULT_DISK_FULL IMX_OUT_OF_MEMORY
#endif
#ifndef MM2_RESULT_CORRUPTED
#define MM2_RESULT_CORRUPTED IMX_ERROR
#endif
#ifndef MM2_RESULT_IO_ERROR
#define MM2_RESULT_IO_ERROR IMX_FILE_ERROR
#endif

#ifndef MM2_ON_EVENT_WRITTEN
#define MM2_ON_EVENT_WRITTEN(csd, v) \
    do {                             \
        (csd)->last_value = (v);     \
        (csd)->valid = 1;            \
    } while (0)
#endif

#ifndef MM2_NO_GPS_PROTOTYPES
/* The firmware's position, read by the GPS writes. */
float imx_get_latitude(void);
float imx_get_longitude(void);
float imx_get_altitude(void);
bool imx_get_gps_speed(float *speed);
#endif

/* Compile-time checks against the firmware's header (C99: a negative array
 * size is the error). */
typedef char mm2_mmcb_holds_reference[(sizeof(((control_sensor_data_t *)0)->mmcb) >=
                                       MM2_MMCB_REF_OFFSET + sizeof(mm2_ref_t))
                                          ? 1
                                          : -1];
typedef char mm2_sources_fit_core[(IMX_UPLOAD_NO_SOURCES <= MM2_CORE_MAX_SOURCES) ? 1 : -1];

/* mm2_api_result maps a core result onto the firmware's enumerator. */
imx_result_t mm2_api_result(mm2_core_rc_t rc) {
    switch (rc) {
    case MM2_CORE_OK: return IMX_SUCCESS;
    case MM2_CORE_OUT_OF_MEMORY: return IMX_OUT_OF_MEMORY;
    case MM2_CORE_INVALID_PARAMETER: return IMX_INVALID_PARAMETER;
    case MM2_CORE_INVALID_ENTRY: return IMX_INVALID_ENTRY;
    case MM2_CORE_INACTIVE: return IMX_INVALID_ENTRY;
    case MM2_CORE_TIMEOUT: return IMX_TIMEOUT;
    case MM2_CORE_NO_DATA: return IMX_NO_DATA;
    case MM2_CORE_INIT_ERROR: return IMX_INIT_ERROR;
    case MM2_CORE_NOT_INITIALIZED: return MM2_RESULT_NOT_INITIALIZED;
    case MM2_CORE_KIND_MISMATCH: return MM2_RESULT_KIND_MISMATCH;
    case MM2_CORE_UTC_NOT_AVAILABLE: return MM2_RESULT_UTC_NOT_AVAILABLE;
    case MM2_CORE_POWERING_DOWN: return MM2_RESULT_POWERING_DOWN;
    case MM2_CORE_INVALID_STATE: return MM2_RESULT_INVALID_STATE;
    case MM2_CORE_BACKEND_UNAVAILABLE: return MM2_RESULT_BACKEND_UNAVAILABLE;
    case MM2_CORE_DISK_FULL: return MM2_RESULT_DISK_FULL;
    case MM2_CORE_CORRUPTED: return MM2_RESULT_CORRUPTED;
    case MM2_CORE_IO_ERROR: return MM2_RESULT_IO_ERROR;
    }
    return IMX_ERROR;
}

#define result mm2_api_result

static mm2_ref_t get_ref(const control_sensor_data_t *csd) {
    mm2_ref_t ref;
    memcpy(&ref, (const unsigned char *)&csd->mmcb + MM2_MMCB_REF_OFFSET, sizeof ref);
    return ref;
}

static void put_ref(control_sensor_data_t *csd, mm2_ref_t ref) {
    memcpy((unsigned char *)&csd->mmcb + MM2_MMCB_REF_OFFSET, &ref, sizeof ref);
}

/* bad_args is the common argument check of the sensor calls. */
static bool bad_args(imatrix_upload_source_t src, const imx_control_sensor_block_t *csb,
                     const control_sensor_data_t *csd) {
    return csb == NULL || csd == NULL || (unsigned long)src >= (unsigned long)IMX_UPLOAD_NO_SOURCES;
}

/* The core's view of a sensor: its reference, source and id. */
#define SENSOR(src, csb, csd) get_ref(csd), (uint32_t)(src), (uint32_t)(csb)->id

#ifdef MM2_ON_COUNTS
static void sync_counts(imatrix_upload_source_t src, imx_control_sensor_block_t *csb,
                        control_sensor_data_t *csd) {
    mm2_core_counts_t c;
    if (mm2_core_sensor_info(SENSOR(src, csb, csd), 0, &c) == MM2_CORE_OK) {
        MM2_ON_COUNTS(csd, src, c);
    }
}
#define SYNC(src, csb, csd) sync_counts(src, csb, csd)
#else
#define SYNC(src, csb, csd) ((void)0)
#endif

/* ---- lifecycle */

imx_result_t imx_memory_manager_init(uint32_t pool_size) {
    mm2_core_config_t cfg;
    memset(&cfg, 0, sizeof cfg); /* platform and dir NULL: from the environment */
    cfg.pool_size = pool_size;
    return result(mm2_core_init(&cfg));
}

int imx_memory_manager_ready(void) { return mm2_core_ready() != 0; }

imx_result_t imx_memory_manager_shutdown(imatrix_upload_source_t upload_source,
                                         imx_control_sensor_block_t *csb,
                                         control_sensor_data_t *csd, uint32_t timeout_ms) {
    mm2_core_rc_t rc;
    if (bad_args(upload_source, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    rc = mm2_core_sensor_info(SENSOR(upload_source, csb, csd), 0, NULL);
    if (rc != MM2_CORE_OK) {
        return result(rc);
    }
    return result(mm2_core_power_down(timeout_ms));
}

/* ---- sensors */

imx_result_t imx_configure_sensor(imatrix_upload_source_t upload_source,
                                  imx_control_sensor_block_t *csb, control_sensor_data_t *csd) {
    mm2_ref_t ref = 0;
    mm2_core_rc_t rc;
    if (bad_args(upload_source, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    rc = mm2_core_configure((uint32_t)upload_source, (uint32_t)csb->id, (uint32_t)csb->sample_rate,
                            &ref);
    if (rc == MM2_CORE_OK) {
        put_ref(csd, ref);
        SYNC(upload_source, csb, csd);
    }
    return result(rc);
}

static imx_result_t set_active(imatrix_upload_source_t src, imx_control_sensor_block_t *csb,
                               control_sensor_data_t *csd, int32_t on) {
    if (bad_args(src, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    return result(mm2_core_set_active(SENSOR(src, csb, csd), on));
}

imx_result_t imx_activate_sensor(imatrix_upload_source_t upload_source,
                                 imx_control_sensor_block_t *csb, control_sensor_data_t *csd) {
    return set_active(upload_source, csb, csd, 1);
}

imx_result_t imx_deactivate_sensor(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd) {
    return set_active(upload_source, csb, csd, 0);
}

imx_result_t imx_recover_sensor_disk_data(imatrix_upload_source_t upload_source,
                                          imx_control_sensor_block_t *csb,
                                          control_sensor_data_t *csd) {
    if (bad_args(upload_source, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    return result(mm2_core_sensor_info(SENSOR(upload_source, csb, csd), 0, NULL));
}

/* ---- writes */

imx_result_t imx_write_tsd(imatrix_upload_source_t upload_source, imx_control_sensor_block_t *csb,
                           control_sensor_data_t *csd, imx_data_32_t value) {
    mm2_core_rc_t rc;
    if (bad_args(upload_source, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    rc = mm2_core_write_tsd(SENSOR(upload_source, csb, csd), value.uint_32bit);
    if (rc == MM2_CORE_OK) {
        SYNC(upload_source, csb, csd);
    }
    return result(rc);
}

imx_result_t imx_write_evt(imatrix_upload_source_t upload_source, imx_control_sensor_block_t *csb,
                           control_sensor_data_t *csd, imx_data_32_t value,
                           imx_utc_time_ms_t utc_time_ms) {
    mm2_core_rc_t rc;
    if (bad_args(upload_source, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    rc = mm2_core_write_evt(SENSOR(upload_source, csb, csd), value.uint_32bit, (uint64_t)utc_time_ms);
    if (rc == MM2_CORE_OK) {
        MM2_ON_EVENT_WRITTEN(csd, value);
        SYNC(upload_source, csb, csd);
    }
    return result(rc);
}

imx_result_t imx_write_event_with_gps(imatrix_upload_source_t upload_source,
                                      imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                      imx_data_32_t value) {
    float speed = 0;
    mm2_core_rc_t rc;
    if (bad_args(upload_source, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    (void)imx_get_gps_speed(&speed);
    rc = mm2_core_write_evt_gps(SENSOR(upload_source, csb, csd), value.uint_32bit,
                                imx_get_latitude(), imx_get_longitude(), imx_get_altitude(), speed);
    if (rc == MM2_CORE_OK) {
        MM2_ON_EVENT_WRITTEN(csd, value);
        SYNC(upload_source, csb, csd);
    }
    return result(rc);
}

imx_result_t imx_write_gps_location(imatrix_upload_source_t upload_source,
                                    imx_utc_time_ms_t event_time) {
    float speed = 0;
    mm2_core_rc_t rc;
    if ((unsigned long)upload_source >= (unsigned long)IMX_UPLOAD_NO_SOURCES) {
        return IMX_INVALID_PARAMETER;
    }
    (void)imx_get_gps_speed(&speed);
    rc = mm2_core_write_gps((uint32_t)upload_source, (uint64_t)event_time, imx_get_latitude(),
                            imx_get_longitude(), imx_get_altitude(), speed);
    return rc == MM2_CORE_NO_DATA ? IMX_SUCCESS : result(rc); /* no GPS sensors: nothing to do */
}

#define GPS_NONE 0xFFFFu

imx_result_t imx_init_gps_config_for_source(imatrix_upload_source_t upload_source,
                                            imx_control_sensor_block_t *csb,
                                            control_sensor_data_t *csd, uint16_t no_sensors,
                                            uint16_t latitude_entry, uint16_t longitude_entry,
                                            uint16_t altitude_entry, uint16_t speed_entry) {
    const uint16_t entry[4] = {latitude_entry, longitude_entry, altitude_entry, speed_entry};
    uint32_t ids[4] = {0, 0, 0, 0}, mask = 0;
    int i, j;
    if (bad_args(upload_source, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    /* Check everything first, so that a bad entry changes nothing. */
    for (i = 0; i < 4; i++) {
        if (entry[i] == GPS_NONE) {
            continue;
        }
        if (entry[i] >= no_sensors || csb[entry[i]].sample_rate != 0) {
            return IMX_INVALID_PARAMETER;
        }
        for (j = 0; j < i; j++) {
            if (entry[j] == entry[i]) {
                return IMX_INVALID_PARAMETER;
            }
        }
    }
    for (i = 0; i < 4; i++) {
        if (entry[i] != GPS_NONE) {
            imx_result_t rc = imx_configure_sensor(upload_source, &csb[entry[i]], &csd[entry[i]]);
            if (rc != IMX_SUCCESS) {
                return rc;
            }
            ids[i] = (uint32_t)csb[entry[i]].id;
            mask |= 1u << i;
        }
    }
    return result(mm2_core_set_gps((uint32_t)upload_source, mask, ids[0], ids[1], ids[2], ids[3]));
}

/* ---- reads */

/* bulk is the read and the peek of the bulk calls (peek when start >= 0). */
static imx_result_t bulk(imatrix_upload_source_t src, imx_control_sensor_block_t *csb,
                         control_sensor_data_t *csd, tsd_evt_value_t *array, uint32_t array_size,
                         long long start, uint32_t requested, uint16_t *filled) {
    uint32_t n, got = 0;
    mm2_core_rc_t rc;
    if (filled != NULL) {
        *filled = 0;
    }
    if (bad_args(src, csb, csd) || array == NULL || filled == NULL || array_size == 0) {
        return IMX_INVALID_PARAMETER;
    }
    n = requested < array_size ? requested : array_size;
    if (n > 0xFFFFu) {
        n = 0xFFFFu; /* *filled is a uint16_t */
    }
    if (start < 0) {
        rc = mm2_core_read(SENSOR(src, csb, csd), array, NULL, n, &got);
    } else {
        rc = mm2_core_peek(SENSOR(src, csb, csd), (uint32_t)start, array, NULL, n, &got);
    }
    if (rc == MM2_CORE_OK) {
        *filled = (uint16_t)got;
        if (start < 0) {
            SYNC(src, csb, csd);
        }
    }
    return result(rc);
}

imx_result_t imx_read_bulk_samples(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                   tsd_evt_value_t *array, uint32_t array_size,
                                   uint32_t requested_count, uint16_t *filled_count) {
    return bulk(upload_source, csb, csd, array, array_size, -1, requested_count, filled_count);
}

imx_result_t imx_peek_bulk_samples(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                   tsd_evt_value_t *array, uint32_t array_size,
                                   uint32_t start_index, uint32_t requested_count,
                                   uint16_t *filled_count) {
    return bulk(upload_source, csb, csd, array, array_size, (long long)start_index, requested_count,
                filled_count);
}

/* one is the read and the peek of a single record (peek when index >= 0). */
static imx_result_t one(imatrix_upload_source_t src, imx_control_sensor_block_t *csb,
                        control_sensor_data_t *csd, long long index, tsd_evt_data_t *out) {
    tsd_evt_value_t v;
    uint16_t filled = 0;
    imx_result_t rc;
    if (out == NULL) {
        return IMX_INVALID_PARAMETER;
    }
    rc = bulk(src, csb, csd, &v, 1, index, 1, &filled);
    if (rc == IMX_SUCCESS) {
        out->value = v.value;
        out->utc_time_ms = v.timestamp;
    }
    return rc;
}

imx_result_t imx_read_next_tsd_evt(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                   tsd_evt_data_t *data_out) {
    return one(upload_source, csb, csd, -1, data_out);
}

imx_result_t imx_peek_next_tsd_evt(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                   uint32_t index, tsd_evt_data_t *data_out) {
    return one(upload_source, csb, csd, (long long)index, data_out);
}

imx_result_t imx_erase_all_pending(imatrix_upload_source_t upload_source,
                                   imx_control_sensor_block_t *csb, control_sensor_data_t *csd) {
    mm2_core_rc_t rc;
    if (bad_args(upload_source, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    rc = mm2_core_ack(SENSOR(upload_source, csb, csd), NULL);
    if (rc == MM2_CORE_OK) {
        SYNC(upload_source, csb, csd);
    }
    return rc == MM2_CORE_NO_DATA ? IMX_SUCCESS : result(rc); /* nothing pending: done */
}

imx_result_t imx_revert_all_pending(imatrix_upload_source_t upload_source,
                                    imx_control_sensor_block_t *csb, control_sensor_data_t *csd) {
    mm2_core_rc_t rc;
    if (bad_args(upload_source, csb, csd)) {
        return IMX_INVALID_PARAMETER;
    }
    rc = mm2_core_nack(SENSOR(upload_source, csb, csd), NULL);
    if (rc == MM2_CORE_OK) {
        SYNC(upload_source, csb, csd);
    }
    return rc == MM2_CORE_NO_DATA ? IMX_SUCCESS : result(rc); /* nothing pending: done */
}

/* counts returns the sensor's counts, all 0 on any error. */
static mm2_core_counts_t counts(imatrix_upload_source_t src, imx_control_sensor_block_t *csb,
                                control_sensor_data_t *csd) {
    mm2_core_counts_t c;
    memset(&c, 0, sizeof c);
    if (!bad_args(src, csb, csd) && mm2_core_sensor_info(SENSOR(src, csb, csd), 0, &c) != MM2_CORE_OK) {
        memset(&c, 0, sizeof c);
    }
    return c;
}

bool imx_has_pending_data(imatrix_upload_source_t upload_source, imx_control_sensor_block_t *csb,
                          control_sensor_data_t *csd) {
    return counts(upload_source, csb, csd).pending_count > 0;
}

uint32_t imx_get_new_sample_count(imatrix_upload_source_t upload_source,
                                  imx_control_sensor_block_t *csb, control_sensor_data_t *csd) {
    return counts(upload_source, csb, csd).new_count;
}

uint32_t imx_get_total_sample_count(imatrix_upload_source_t upload_source,
                                    imx_control_sensor_block_t *csb, control_sensor_data_t *csd) {
    return counts(upload_source, csb, csd).total_count;
}

/* ---- statistics, power and maintenance */

imx_result_t imx_get_memory_stats(mm2_stats_t *stats_out) {
    mm2_core_stats_t st;
    mm2_core_rc_t rc;
    if (stats_out == NULL) {
        return mm2_core_stats(NULL) == MM2_CORE_NOT_INITIALIZED ? MM2_RESULT_NOT_INITIALIZED
                                                                : IMX_INVALID_PARAMETER;
    }
    rc = mm2_core_stats(&st);
    if (rc != MM2_CORE_OK) {
        return result(rc);
    }
    memset(stats_out, 0, sizeof *stats_out);
    stats_out->total_sectors = st.total_sectors;
    stats_out->free_sectors = st.free_sectors;
    stats_out->active_sensors = st.active_sensors;
    stats_out->total_allocations = st.total_allocations;
    stats_out->allocation_failures = st.allocation_failures;
    stats_out->chain_operations = st.total_allocations + st.total_frees;
    stats_out->space_efficiency_percent = st.space_efficiency_percent;
    return IMX_SUCCESS;
}

imx_result_t imx_get_sensor_state(imatrix_upload_source_t upload_source,
                                  imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                  mm2_sensor_state_t *state_out) {
    mm2_core_counts_t c;
    mm2_core_rc_t rc;
    if (bad_args(upload_source, csb, csd) || state_out == NULL) {
        return IMX_INVALID_PARAMETER;
    }
    rc = mm2_core_sensor_info(SENSOR(upload_source, csb, csd), 1, &c);
    if (rc != MM2_CORE_OK) {
        return result(rc);
    }
    memset(state_out, 0, sizeof *state_out);
    state_out->sensor_id = (uint32_t)csb->id;
    state_out->active = c.active ? 1u : 0u;
    state_out->ram_end_sector = c.ram_sectors;
    state_out->total_records = c.total_count;
    state_out->last_sample_time = c.oldest_unacked_ms;
    state_out->pending_counts[upload_source] = c.pending_count;
    return IMX_SUCCESS;
}

imx_result_t imx_validate_sector_chains(imatrix_upload_source_t upload_source,
                                        imx_control_sensor_block_t *csb,
                                        control_sensor_data_t *csd) {
    if (csb != NULL || csd != NULL) {
        mm2_core_rc_t rc;
        if (bad_args(upload_source, csb, csd)) {
            return IMX_INVALID_PARAMETER;
        }
        rc = mm2_core_sensor_info(SENSOR(upload_source, csb, csd), 0, NULL);
        if (rc != MM2_CORE_OK) {
            return result(rc);
        }
    }
    return result(mm2_core_check());
}

uint32_t imx_force_garbage_collection(imatrix_upload_source_t upload_source,
                                      imx_control_sensor_block_t *csb,
                                      control_sensor_data_t *csd) {
    (void)upload_source;
    (void)csb;
    (void)csd;
    return 0; /* every sector is freed by the ACK that empties it */
}

imx_result_t imx_clear_all_disk_history(int verbose) {
    uint64_t n = 0;
    mm2_core_rc_t rc = mm2_core_discard_all(&n);
    if (rc == MM2_CORE_OK && verbose) {
        printf("mm2: cleared %llu records\n", (unsigned long long)n);
    }
    return result(rc);
}

imx_result_t process_memory_manager(imx_time_t current_time) {
    (void)current_time;
    return result(mm2_core_tick());
}

void imx_power_event_detected(void) { (void)mm2_core_power_down(0); }

imx_result_t handle_power_abort_recovery(void) {
    mm2_core_rc_t rc = mm2_core_power_abort();
    return rc == MM2_CORE_INVALID_STATE ? IMX_SUCCESS : result(rc); /* nothing to recover */
}

imx_result_t imx_set_utc_available(int utc_available) {
    return result(mm2_core_set_utc_available(utc_available != 0));
}
