/*
 * mm2_v1.c - the v1 memory manager names, with their original signatures,
 * over mm2_api.c. Optional: compile it only if the firmware still calls
 * them. A sensor is entry `entry` of the caller's csb/csd arrays (the
 * caller guarantees the arrays hold it, as in v1), of upload source
 * MM2_V1_UPLOAD_SOURCE (default IMX_UPLOAD_GATEWAY). The void calls report
 * nothing, as in v1.
 */
#define _POSIX_C_SOURCE 200809L

#include <time.h>

#include "mm2_api.h"

#ifndef MM2_V1_UPLOAD_SOURCE
#define MM2_V1_UPLOAD_SOURCE IMX_UPLOAD_GATEWAY
#endif

static imx_utc_time_ms_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (imx_utc_time_ms_t)ts.tv_sec * 1000u + (imx_utc_time_ms_t)(ts.tv_nsec / 1000000);
}

static imx_data_32_t data(uint32_t v) {
    imx_data_32_t d;
    d.uint_32bit = v;
    return d;
}

/* imx_sat_init starts the library with the defaults; already started is
 * success. */
imx_result_t imx_sat_init(void) {
    mm2_core_rc_t rc = mm2_core_init(NULL); /* profile and backend from the environment */
    if (rc == MM2_CORE_INVALID_STATE) {
        return IMX_SUCCESS;
    }
    return mm2_api_result(rc);
}

/* write_tsd_evt: a sample of a TSD sensor, else an event at the clock (with
 * the firmware's position when add_gps_location). */
void write_tsd_evt(imx_control_sensor_block_t *csb, control_sensor_data_t *csd, uint16_t entry,
                   uint32_t value, bool add_gps_location) {
    if (csb == NULL || csd == NULL) {
        return;
    }
    if (csb[entry].sample_rate != 0) {
        (void)imx_write_tsd(MM2_V1_UPLOAD_SOURCE, &csb[entry], &csd[entry], data(value));
    } else if (add_gps_location) {
        (void)imx_write_event_with_gps(MM2_V1_UPLOAD_SOURCE, &csb[entry], &csd[entry], data(value));
    } else {
        (void)imx_write_evt(MM2_V1_UPLOAD_SOURCE, &csb[entry], &csd[entry], data(value), now_ms());
    }
}

/* write_tsd_evt_time: utc_time in seconds (v1's unit); a TSD sensor derives
 * its time from the period. */
void write_tsd_evt_time(imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                        uint16_t entry, uint32_t value, uint32_t utc_time) {
    if (csb == NULL || csd == NULL) {
        return;
    }
    if (csb[entry].sample_rate != 0) {
        (void)imx_write_tsd(MM2_V1_UPLOAD_SOURCE, &csb[entry], &csd[entry], data(value));
    } else {
        (void)imx_write_evt(MM2_V1_UPLOAD_SOURCE, &csb[entry], &csd[entry], data(value),
                            (imx_utc_time_ms_t)utc_time * 1000u);
    }
}

/* read_tsd_evt reads the next record's value and marks it pending; 0 when
 * there is none. */
void read_tsd_evt(imx_control_sensor_block_t *csb, control_sensor_data_t *csd, uint16_t entry,
                  uint32_t *value) {
    tsd_evt_data_t d;
    if (csb == NULL || csd == NULL || value == NULL) {
        return;
    }
    *value = imx_read_next_tsd_evt(MM2_V1_UPLOAD_SOURCE, &csb[entry], &csd[entry], &d) == IMX_SUCCESS
                 ? d.value
                 : 0;
}

/* erase_tsd_evt acknowledges the entry's pending records. */
void erase_tsd_evt(imx_control_sensor_block_t *csb, control_sensor_data_t *csd, uint16_t entry) {
    if (csb != NULL && csd != NULL) {
        (void)imx_erase_all_pending(MM2_V1_UPLOAD_SOURCE, &csb[entry], &csd[entry]);
    }
}

/* revert_tsd_evt_pending_data NACKs entries 0..no_items-1 (they are
 * delivered again). */
void revert_tsd_evt_pending_data(imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                 uint16_t no_items) {
    uint16_t i;
    if (csb == NULL || csd == NULL) {
        return;
    }
    for (i = 0; i < no_items; i++) {
        (void)imx_revert_all_pending(MM2_V1_UPLOAD_SOURCE, &csb[i], &csd[i]);
    }
}

/* erase_tsd_evt_pending_data ACKs entries 0..no_items-1. */
void erase_tsd_evt_pending_data(imx_control_sensor_block_t *csb, control_sensor_data_t *csd,
                                uint16_t no_items) {
    uint16_t i;
    if (csb == NULL || csd == NULL) {
        return;
    }
    for (i = 0; i < no_items; i++) {
        (void)imx_erase_all_pending(MM2_V1_UPLOAD_SOURCE, &csb[i], &csd[i]);
    }
}
