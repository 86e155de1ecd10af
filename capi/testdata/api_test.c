/*
 * api_test.c - every exported call of libmm2.a, its results and its error
 * codes, through mm2.h only.
 *
 *   api_test                    the whole sequence; run it in an empty
 *                               scratch directory (the disk backend test
 *                               creates files there)
 *   api_test env CODE PLAT BACK imx_memory_manager_init(0) under the caller's
 *                               MM2_PLATFORM / MM2_DIR must return CODE (a
 *                               number) and, on success, run the platform
 *                               PLAT with the backend BACK
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const imatrix_upload_source_t GW = IMX_UPLOAD_GATEWAY;
static const imatrix_upload_source_t HOSTED = IMX_UPLOAD_HOSTED_DEVICE;
static const imatrix_upload_source_t CAN = IMX_UPLOAD_CAN_DEVICE;
static const imatrix_upload_source_t BAD = (imatrix_upload_source_t)IMX_UPLOAD_NO_SOURCES;

static imx_data_32_t u32(uint32_t v) {
    imx_data_32_t d;
    d.uint_32bit = v;
    return d;
}

static uint32_t float_bits(float f) {
    imx_data_32_t d;
    d.float_32bit = f;
    return d.uint_32bit;
}

static mm2_counts_t counts(imatrix_upload_source_t src, imx_control_sensor_block_t *csb,
                           control_sensor_data_t *csd) {
    mm2_counts_t c;
    memset(&c, 0xff, sizeof c);
    RC(imx_get_sensor_counts(src, csb, csd, &c), IMX_SUCCESS);
    return c;
}

/* Before imx_memory_manager_init every call is refused. */
static void test_not_initialized(void) {
    imx_control_sensor_block_t csb = {1, 0};
    control_sensor_data_t csd = {1, 1};
    tsd_evt_data_t d;
    tsd_evt_value_t v[2];
    uint16_t filled = 7;
    uint32_t value;
    mm2_stats_t st;
    mm2_counts_t c;

    EXPECT(imx_memory_manager_ready() == 0);
    RC(imx_configure_sensor(GW, &csb, &csd), IMX_NOT_INITIALIZED);
    RC(imx_activate_sensor(GW, &csb, &csd), IMX_NOT_INITIALIZED);
    RC(imx_deactivate_sensor(GW, &csb, &csd), IMX_NOT_INITIALIZED);
    RC(imx_write_tsd(GW, &csb, &csd, u32(1)), IMX_NOT_INITIALIZED);
    RC(imx_write_evt(GW, &csb, &csd, u32(1), 5), IMX_NOT_INITIALIZED);
    RC(imx_write_event_with_gps(GW, &csb, &csd, u32(1), 1, 2, 3, 4), IMX_NOT_INITIALIZED);
    RC(imx_init_gps_config_for_source(GW, &csb, &csd, 1, 0, 0, 0, 0), IMX_NOT_INITIALIZED);
    RC(imx_set_gps_fix(1, 2, 3, 4), IMX_NOT_INITIALIZED);
    RC(imx_read_next_tsd_evt(GW, &csb, &csd, &d), IMX_NOT_INITIALIZED);
    RC(imx_peek_next_tsd_evt(GW, &csb, &csd, &d), IMX_NOT_INITIALIZED);
    RC(imx_read_bulk_samples(GW, &csb, &csd, v, 2, 2, &filled), IMX_NOT_INITIALIZED);
    EXPECT(filled == 0);
    RC(imx_erase_all_pending(GW, &csb, &csd, 0), IMX_NOT_INITIALIZED);
    RC(imx_revert_all_pending(GW, &csb, &csd), IMX_NOT_INITIALIZED);
    EXPECT(!imx_has_pending_data(GW, &csb, &csd));
    EXPECT(imx_get_new_sample_count(GW, &csb, &csd) == 0);
    EXPECT(imx_get_total_sample_count(GW, &csb, &csd) == 0);
    RC(imx_get_sensor_counts(GW, &csb, &csd, &c), IMX_NOT_INITIALIZED);
    RC(imx_get_memory_stats(&st), IMX_NOT_INITIALIZED);
    RC(imx_validate_sector_chains(GW, NULL, NULL), IMX_NOT_INITIALIZED);
    RC(imx_power_event_detected(), IMX_NOT_INITIALIZED);
    RC(handle_power_abort_recovery(), IMX_NOT_INITIALIZED);
    RC(imx_set_utc_available(1), IMX_NOT_INITIALIZED);
    RC(process_memory_manager(0), IMX_NOT_INITIALIZED);
    RC(imx_memory_manager_shutdown(0), IMX_NOT_INITIALIZED);
    RC(write_tsd_evt(GW, &csb, &csd, 0, 1, false), IMX_NOT_INITIALIZED);
    RC(write_tsd_evt_time(GW, &csb, &csd, 0, 1, 1), IMX_NOT_INITIALIZED);
    RC(read_tsd_evt(GW, &csb, &csd, 0, &value), IMX_NOT_INITIALIZED);
    RC(erase_tsd_evt(GW, &csb, &csd, 0), IMX_NOT_INITIALIZED);
    RC(revert_tsd_evt_pending_data(GW, &csb, &csd, 1), IMX_NOT_INITIALIZED);
}

/* Bad configurations are refused and leave the library uninitialised. */
static void test_init_errors(void) {
    mm2_config_t cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.platform = "bogus";
    cfg.dir = "";
    RC(imx_memory_manager_init_config(&cfg), IMX_INVALID_PARAMETER);
    cfg.platform = "linux";
    cfg.overflow = 7;
    RC(imx_memory_manager_init_config(&cfg), IMX_INVALID_PARAMETER);
    cfg.overflow = MM2_OVERFLOW_DROP_OLDEST;
    cfg.pool_size = 8; /* less than one sector */
    RC(imx_memory_manager_init_config(&cfg), IMX_INVALID_PARAMETER);
    cfg.pool_size = 0;
    cfg.sync_policy = 9;
    RC(imx_memory_manager_init_config(&cfg), IMX_INVALID_PARAMETER);
    cfg.sync_policy = MM2_SYNC_INTERVAL; /* with interval 0 */
    RC(imx_memory_manager_init_config(&cfg), IMX_INVALID_PARAMETER);
    cfg.sync_policy = MM2_SYNC_ON_POWER_DOWN;
    {
        /* A directory below a regular file cannot be created. */
        FILE *f = fopen("blocker", "w");
        EXPECT(f != NULL);
        if (f != NULL) {
            fclose(f);
        }
    }
    cfg.dir = "blocker/store";
    RC(imx_memory_manager_init_config(&cfg), IMX_BACKEND_UNAVAILABLE);
    cfg.platform = "wiced"; /* no disk tier on an MCU */
    cfg.dir = "store";
    RC(imx_memory_manager_init_config(&cfg), IMX_INVALID_PARAMETER);
    cfg.dir = "";
    cfg.pool_size = 64 * 1024; /* over the 12 KB budget */
    RC(imx_memory_manager_init_config(&cfg), IMX_INVALID_PARAMETER);
    EXPECT(imx_memory_manager_ready() == 0);
    RC(process_memory_manager(0), IMX_NOT_INITIALIZED);
}

static void test_lifecycle_and_stats(void) {
    mm2_config_t cfg;
    mm2_stats_t st;

    memset(&cfg, 0, sizeof cfg);
    cfg.platform = "linux";
    cfg.dir = "";
    RC(imx_memory_manager_init_config(&cfg), IMX_SUCCESS);
    RC(imx_memory_manager_init(0), IMX_INVALID_STATE);
    RC(imx_memory_manager_init_config(NULL), IMX_INVALID_STATE);
    RC(imx_sat_init(), IMX_SUCCESS); /* v1: fine when already initialised */
    EXPECT(imx_memory_manager_ready() == 1);
    RC(process_memory_manager(12345), IMX_SUCCESS);

    RC(imx_get_memory_stats(NULL), IMX_INVALID_PARAMETER);
    memset(&st, 0xff, sizeof st);
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(strcmp(st.platform, "linux") == 0);
    EXPECT(strcmp(st.backend, "mock") == 0);
    EXPECT(st.total_sectors == 2048);
    EXPECT(st.free_sectors == 2048);
    EXPECT(st.used_sectors == 0);
    EXPECT(st.sector_size == 32);
    EXPECT(st.pressure == MM2_PRESSURE_NORMAL);
    EXPECT(st.configured_sensors == 0);
    EXPECT(st.utc_available == 1);
    EXPECT(st.powering_down == 0);
    EXPECT(st.footprint_bytes > 64 * 1024);
    RC(imx_validate_sector_chains(GW, NULL, NULL), IMX_SUCCESS);
}

/* Sensors used by the following tests. */
static imx_control_sensor_block_t tsd_csb = {1, 1000}; /* CAN, TSD, 1 s */
static control_sensor_data_t tsd_csd;
static imx_control_sensor_block_t evt_csb = {2, 0}; /* GW, EVT */
static control_sensor_data_t evt_csd;

static void test_configure(void) {
    control_sensor_data_t again;
    imx_control_sensor_block_t changed = {1, 500};
    control_sensor_data_t scratch;

    RC(imx_configure_sensor(CAN, NULL, &tsd_csd), IMX_INVALID_PARAMETER);
    RC(imx_configure_sensor(CAN, &tsd_csb, NULL), IMX_INVALID_PARAMETER);
    RC(imx_configure_sensor(BAD, &tsd_csb, &tsd_csd), IMX_INVALID_PARAMETER);
    RC(imx_configure_sensor((imatrix_upload_source_t)200, &tsd_csb, &tsd_csd), IMX_INVALID_PARAMETER);

    RC(imx_configure_sensor(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
    EXPECT(tsd_csd.mm2_handle != 0);
    RC(imx_configure_sensor(GW, &evt_csb, &evt_csd), IMX_SUCCESS);
    EXPECT(evt_csd.mm2_handle != 0 && evt_csd.mm2_handle != tsd_csd.mm2_handle);

    memset(&again, 0, sizeof again);
    RC(imx_configure_sensor(CAN, &tsd_csb, &again), IMX_SUCCESS); /* idempotent */
    EXPECT(again.mm2_handle == tsd_csd.mm2_handle && again.mm2_instance == tsd_csd.mm2_instance);
    memset(&scratch, 0, sizeof scratch);
    RC(imx_configure_sensor(CAN, &changed, &scratch), IMX_KIND_MISMATCH);
    EXPECT(scratch.mm2_handle == 0);
    RC(imx_activate_sensor(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
}

/* Every way of naming a sensor wrongly is refused; nothing is stored. */
static void test_bad_sensor_inputs(void) {
    control_sensor_data_t zero = {0, 0};
    control_sensor_data_t stale = tsd_csd;
    control_sensor_data_t far = tsd_csd;
    imx_control_sensor_block_t other_id = {99, 1000};
    tsd_evt_data_t d;
    mm2_counts_t c;

    stale.mm2_instance += 1;
    far.mm2_handle = 60000;

    RC(imx_write_tsd(CAN, &tsd_csb, NULL, u32(1)), IMX_INVALID_PARAMETER);
    RC(imx_write_tsd(CAN, NULL, &tsd_csd, u32(1)), IMX_INVALID_PARAMETER);
    RC(imx_write_tsd(BAD, &tsd_csb, &tsd_csd, u32(1)), IMX_INVALID_PARAMETER);
    RC(imx_write_tsd(CAN, &tsd_csb, &zero, u32(1)), IMX_INVALID_ENTRY);
    RC(imx_write_tsd(CAN, &tsd_csb, &stale, u32(1)), IMX_INVALID_ENTRY);
    RC(imx_write_tsd(CAN, &tsd_csb, &far, u32(1)), IMX_INVALID_ENTRY);
    RC(imx_write_tsd(CAN, &other_id, &tsd_csd, u32(1)), IMX_INVALID_ENTRY); /* csd of another sensor */
    RC(imx_write_tsd(GW, &tsd_csb, &tsd_csd, u32(1)), IMX_INVALID_ENTRY);   /* issued for CAN */
    RC(imx_write_tsd(GW, &evt_csb, &evt_csd, u32(1)), IMX_KIND_MISMATCH);
    RC(imx_write_evt(CAN, &tsd_csb, &tsd_csd, u32(1), 1), IMX_KIND_MISMATCH);
    RC(imx_write_evt(GW, &evt_csb, &zero, u32(1), 1), IMX_INVALID_ENTRY);
    RC(imx_write_evt(BAD, &evt_csb, &evt_csd, u32(1), 1), IMX_INVALID_PARAMETER);
    RC(imx_write_event_with_gps(CAN, &tsd_csb, &tsd_csd, u32(1), 0, 0, 0, 0), IMX_KIND_MISMATCH);
    RC(imx_write_event_with_gps(GW, &evt_csb, NULL, u32(1), 0, 0, 0, 0), IMX_INVALID_PARAMETER);
    RC(imx_read_next_tsd_evt(CAN, &tsd_csb, &zero, &d), IMX_INVALID_ENTRY);
    RC(imx_peek_next_tsd_evt(BAD, &tsd_csb, &tsd_csd, &d), IMX_INVALID_PARAMETER);
    RC(imx_erase_all_pending(CAN, &tsd_csb, &stale, 0), IMX_INVALID_ENTRY);
    RC(imx_revert_all_pending(CAN, NULL, &tsd_csd), IMX_INVALID_PARAMETER);
    RC(imx_activate_sensor(CAN, &tsd_csb, &zero), IMX_INVALID_ENTRY);
    RC(imx_deactivate_sensor(BAD, &tsd_csb, &tsd_csd), IMX_INVALID_PARAMETER);
    RC(imx_get_sensor_counts(CAN, &tsd_csb, &zero, &c), IMX_INVALID_ENTRY);
    RC(imx_get_sensor_counts(CAN, &tsd_csb, &tsd_csd, NULL), IMX_INVALID_PARAMETER);
    EXPECT(imx_get_new_sample_count(CAN, &tsd_csb, &zero) == 0);
    EXPECT(imx_get_total_sample_count(BAD, &tsd_csb, &tsd_csd) == 0);
    EXPECT(!imx_has_pending_data(CAN, NULL, &tsd_csd));

    /* A fault inside the library (here: a wild csb pointer, read after the
     * csd check) is caught at the boundary: an error code, not a crash. */
    RC(imx_write_tsd(CAN, (imx_control_sensor_block_t *)(uintptr_t)16, &tsd_csd, u32(1)), IMX_ERROR);
    EXPECT(imx_get_new_sample_count(CAN, (imx_control_sensor_block_t *)(uintptr_t)16, &tsd_csd) == 0);

    c = counts(CAN, &tsd_csb, &tsd_csd);
    EXPECT(c.total_count == 0);
    c = counts(GW, &evt_csb, &evt_csd);
    EXPECT(c.total_count == 0);
}

/* TSD: write, peek, read next, read bulk, NACK redelivery, ACK. */
static void test_tsd_read_ack_nack(void) {
    tsd_evt_data_t d, p;
    tsd_evt_value_t v[16];
    uint16_t filled;
    mm2_counts_t c;
    uint32_t i;

    for (i = 0; i < 10; i++) {
        RC(imx_write_tsd(CAN, &tsd_csb, &tsd_csd, u32(100 + i)), IMX_SUCCESS);
    }
    c = counts(CAN, &tsd_csb, &tsd_csd);
    EXPECT(c.new_count == 10 && c.pending_count == 0 && c.total_count == 10);
    EXPECT(imx_get_new_sample_count(CAN, &tsd_csb, &tsd_csd) == 10);
    EXPECT(imx_get_total_sample_count(CAN, &tsd_csb, &tsd_csd) == 10);
    EXPECT(!imx_has_pending_data(CAN, &tsd_csb, &tsd_csd));

    /* Peek changes nothing. */
    RC(imx_peek_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, NULL), IMX_INVALID_PARAMETER);
    RC(imx_peek_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &p), IMX_SUCCESS);
    EXPECT(p.value == 100 && p.sequence == 1 && p.utc_time_ms > 1600000000000ULL);
    RC(imx_peek_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &p), IMX_SUCCESS);
    EXPECT(p.value == 100 && p.sequence == 1);
    c = counts(CAN, &tsd_csb, &tsd_csd);
    EXPECT(c.new_count == 10 && c.pending_count == 0);

    /* Read next marks one pending. */
    RC(imx_read_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, NULL), IMX_INVALID_PARAMETER);
    RC(imx_read_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &d), IMX_SUCCESS);
    EXPECT(d.value == 100 && d.sequence == 1 && d.utc_time_ms == p.utc_time_ms);
    c = counts(CAN, &tsd_csb, &tsd_csd);
    EXPECT(c.new_count == 9 && c.pending_count == 1 && c.total_count == 10);
    EXPECT(imx_has_pending_data(CAN, &tsd_csb, &tsd_csd));

    /* Bulk: bad parameters first, each leaves *filled at 0. */
    filled = 9;
    RC(imx_read_bulk_samples(CAN, &tsd_csb, &tsd_csd, NULL, 4, 4, &filled), IMX_INVALID_PARAMETER);
    EXPECT(filled == 0);
    RC(imx_read_bulk_samples(CAN, &tsd_csb, &tsd_csd, v, 4, 4, NULL), IMX_INVALID_PARAMETER);
    RC(imx_read_bulk_samples(CAN, &tsd_csb, &tsd_csd, v, 0, 4, &filled), IMX_INVALID_PARAMETER);
    RC(imx_read_bulk_samples(CAN, &tsd_csb, &tsd_csd, v, 4, 0, &filled), IMX_INVALID_PARAMETER);
    RC(imx_read_bulk_samples(BAD, &tsd_csb, &tsd_csd, v, 4, 4, &filled), IMX_INVALID_PARAMETER);

    /* Bulk: min(array_size, requested_count) records. */
    RC(imx_read_bulk_samples(CAN, &tsd_csb, &tsd_csd, v, 16, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 4);
    for (i = 0; i < 4; i++) {
        EXPECT(v[i].value == 101 + i && v[i].sequence == 2 + i);
        EXPECT(v[i].timestamp >= d.utc_time_ms);
    }
    c = counts(CAN, &tsd_csb, &tsd_csd);
    EXPECT(c.new_count == 5 && c.pending_count == 5);

    /* NACK: all five pending come back, in order, with the same sequence numbers. */
    RC(imx_revert_all_pending(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
    c = counts(CAN, &tsd_csb, &tsd_csd);
    EXPECT(c.new_count == 10 && c.pending_count == 0);
    RC(imx_read_bulk_samples(CAN, &tsd_csb, &tsd_csd, v, 16, 16, &filled), IMX_SUCCESS);
    EXPECT(filled == 10);
    for (i = 0; i < 10; i++) {
        EXPECT(v[i].value == 100 + i && v[i].sequence == 1 + i);
    }
    EXPECT(v[0].timestamp == d.utc_time_ms);

    /* ACK with a count that is not the pending count changes nothing. */
    RC(imx_erase_all_pending(CAN, &tsd_csb, &tsd_csd, 3), IMX_INVALID_PARAMETER);
    c = counts(CAN, &tsd_csb, &tsd_csd);
    EXPECT(c.pending_count == 10);
    RC(imx_erase_all_pending(CAN, &tsd_csb, &tsd_csd, 10), IMX_SUCCESS);
    c = counts(CAN, &tsd_csb, &tsd_csd);
    EXPECT(c.new_count == 0 && c.pending_count == 0 && c.total_count == 0);

    /* Nothing left: every read and ACK/NACK says so. */
    RC(imx_erase_all_pending(CAN, &tsd_csb, &tsd_csd, 0), IMX_NO_DATA);
    RC(imx_erase_all_pending(CAN, &tsd_csb, &tsd_csd, 5), IMX_NO_DATA);
    RC(imx_revert_all_pending(CAN, &tsd_csb, &tsd_csd), IMX_NO_DATA);
    RC(imx_read_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &d), IMX_NO_DATA);
    RC(imx_peek_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &d), IMX_NO_DATA);
    filled = 3;
    RC(imx_read_bulk_samples(CAN, &tsd_csb, &tsd_csd, v, 16, 16, &filled), IMX_NO_DATA);
    EXPECT(filled == 0);

    /* Sequence numbers continue after the ACK. */
    RC(imx_write_tsd(CAN, &tsd_csb, &tsd_csd, u32(7)), IMX_SUCCESS);
    RC(imx_read_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &d), IMX_SUCCESS);
    EXPECT(d.value == 7 && d.sequence == 11);
    RC(imx_erase_all_pending(CAN, &tsd_csb, &tsd_csd, 1), IMX_SUCCESS);
}

/* EVT: own timestamps (0 included), float values, multiple reads before an ACK. */
static void test_evt(void) {
    static const imx_utc_time_ms_t ts[4] = {0, 1, 1700000000123ULL, 1700000000123ULL};
    tsd_evt_data_t d;
    tsd_evt_value_t v[4];
    uint16_t filled;
    imx_data_32_t f;
    int i;

    f.float_32bit = 23.5f;
    for (i = 0; i < 3; i++) {
        RC(imx_write_evt(GW, &evt_csb, &evt_csd, u32(10 + (uint32_t)i), ts[i]), IMX_SUCCESS);
    }
    RC(imx_write_evt(GW, &evt_csb, &evt_csd, f, ts[3]), IMX_SUCCESS);
    RC(imx_read_next_tsd_evt(GW, &evt_csb, &evt_csd, &d), IMX_SUCCESS);
    EXPECT(d.value == 10 && d.utc_time_ms == 0 && d.sequence == 1);
    RC(imx_read_bulk_samples(GW, &evt_csb, &evt_csd, v, 4, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 3);
    EXPECT(v[0].value == 11 && v[0].timestamp == 1 && v[0].sequence == 2);
    EXPECT(v[1].value == 12 && v[1].timestamp == ts[2] && v[1].sequence == 3);
    EXPECT(v[2].value == float_bits(23.5f) && v[2].timestamp == ts[3] && v[2].sequence == 4);
    RC(imx_erase_all_pending(GW, &evt_csb, &evt_csd, 4), IMX_SUCCESS);
    EXPECT(imx_get_total_sample_count(GW, &evt_csb, &evt_csd) == 0);
}

/* Sources are isolated: the same sensor id on two sources, ACK on one. */
static void test_source_isolation(void) {
    imx_control_sensor_block_t a = {500, 0};
    control_sensor_data_t a_gw, a_hosted;
    tsd_evt_data_t d;

    memset(&a_gw, 0, sizeof a_gw);
    memset(&a_hosted, 0, sizeof a_hosted);
    RC(imx_configure_sensor(GW, &a, &a_gw), IMX_SUCCESS);
    RC(imx_configure_sensor(HOSTED, &a, &a_hosted), IMX_SUCCESS);
    EXPECT(a_gw.mm2_handle != a_hosted.mm2_handle);
    RC(imx_write_evt(GW, &a, &a_gw, u32(1), 1), IMX_SUCCESS);
    RC(imx_write_evt(HOSTED, &a, &a_hosted, u32(2), 2), IMX_SUCCESS);
    RC(imx_write_evt(HOSTED, &a, &a_gw, u32(3), 3), IMX_INVALID_ENTRY); /* wrong source for this csd */
    RC(imx_read_next_tsd_evt(GW, &a, &a_gw, &d), IMX_SUCCESS);
    RC(imx_read_next_tsd_evt(HOSTED, &a, &a_hosted, &d), IMX_SUCCESS);
    EXPECT(d.value == 2);
    RC(imx_erase_all_pending(GW, &a, &a_gw, 0), IMX_SUCCESS);
    EXPECT(imx_has_pending_data(HOSTED, &a, &a_hosted));
    RC(imx_revert_all_pending(HOSTED, &a, &a_hosted), IMX_SUCCESS);
    EXPECT(imx_get_new_sample_count(HOSTED, &a, &a_hosted) == 1);
    EXPECT(imx_get_total_sample_count(GW, &a, &a_gw) == 0);
    RC(imx_read_next_tsd_evt(HOSTED, &a, &a_hosted, &d), IMX_SUCCESS);
    RC(imx_erase_all_pending(HOSTED, &a, &a_hosted, 1), IMX_SUCCESS);
}

/* GPS: configuration errors, then one event writes five records with one timestamp. */
static imx_control_sensor_block_t gps_csb[5] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 100}};
static control_sensor_data_t gps_csd[5];

static void test_gps(void) {
    imx_control_sensor_block_t plain = {600, 0};
    control_sensor_data_t plain_csd;
    tsd_evt_data_t ev, g;
    static const float fix[4] = {51.5f, -0.25f, 120.0f, 88.0f};
    int i;

    RC(imx_init_gps_config_for_source(GW, NULL, gps_csd, 5, 0, 1, 2, 3), IMX_INVALID_PARAMETER);
    RC(imx_init_gps_config_for_source(GW, gps_csb, NULL, 5, 0, 1, 2, 3), IMX_INVALID_PARAMETER);
    RC(imx_init_gps_config_for_source(BAD, gps_csb, gps_csd, 5, 0, 1, 2, 3), IMX_INVALID_PARAMETER);
    RC(imx_init_gps_config_for_source(GW, gps_csb, gps_csd, 4, 0, 1, 2, 4), IMX_INVALID_PARAMETER);
    RC(imx_init_gps_config_for_source(GW, gps_csb, gps_csd, 5, 0, 1, 2, -1), IMX_INVALID_PARAMETER);
    RC(imx_init_gps_config_for_source(GW, gps_csb, gps_csd, 5, 0, 1, 1, 3), IMX_INVALID_PARAMETER);
    RC(imx_init_gps_config_for_source(GW, gps_csb, gps_csd, 5, 0, 1, 2, 4), IMX_KIND_MISMATCH);
    EXPECT(gps_csd[0].mm2_handle == 0);
    RC(imx_init_gps_config_for_source(GW, gps_csb, gps_csd, 5, 0, 1, 2, 3), IMX_SUCCESS);
    for (i = 0; i < 4; i++) {
        EXPECT(gps_csd[i].mm2_handle != 0);
    }
    EXPECT(gps_csd[4].mm2_handle == 0);

    RC(imx_write_event_with_gps(GW, &evt_csb, &evt_csd, u32(77), fix[0], fix[1], fix[2], fix[3]),
       IMX_SUCCESS);
    RC(imx_read_next_tsd_evt(GW, &evt_csb, &evt_csd, &ev), IMX_SUCCESS);
    EXPECT(ev.value == 77 && ev.utc_time_ms > 1600000000000ULL);
    for (i = 0; i < 4; i++) {
        RC(imx_read_next_tsd_evt(GW, &gps_csb[i], &gps_csd[i], &g), IMX_SUCCESS);
        EXPECT(g.value == float_bits(fix[i]));
        EXPECT(g.utc_time_ms == ev.utc_time_ms);
        EXPECT(g.sequence == 1);
        RC(imx_erase_all_pending(GW, &gps_csb[i], &gps_csd[i], 1), IMX_SUCCESS);
    }
    RC(imx_erase_all_pending(GW, &evt_csb, &evt_csd, 1), IMX_SUCCESS);

    /* A source without a GPS configuration writes the event only. */
    memset(&plain_csd, 0, sizeof plain_csd);
    RC(imx_configure_sensor(HOSTED, &plain, &plain_csd), IMX_SUCCESS);
    RC(imx_write_event_with_gps(HOSTED, &plain, &plain_csd, u32(5), 1, 2, 3, 4), IMX_SUCCESS);
    EXPECT(imx_get_new_sample_count(HOSTED, &plain, &plain_csd) == 1);
    for (i = 0; i < 4; i++) {
        EXPECT(imx_get_total_sample_count(GW, &gps_csb[i], &gps_csd[i]) == 0);
    }
    RC(imx_set_gps_fix(1.0f, 2.0f, 3.0f, 4.0f), IMX_SUCCESS);
}

static void test_activate_deactivate(void) {
    tsd_evt_data_t d;

    RC(imx_deactivate_sensor(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
    RC(imx_write_tsd(CAN, &tsd_csb, &tsd_csd, u32(1)), IMX_INVALID_ENTRY);
    RC(write_tsd_evt(CAN, &tsd_csb, &tsd_csd, 0, 1, false), IMX_INVALID_ENTRY);
    EXPECT(imx_get_total_sample_count(CAN, &tsd_csb, &tsd_csd) == 0);
    RC(imx_activate_sensor(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
    RC(imx_write_tsd(CAN, &tsd_csb, &tsd_csd, u32(2)), IMX_SUCCESS);

    /* A deactivated sensor can still be drained. */
    RC(imx_deactivate_sensor(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
    RC(imx_read_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &d), IMX_SUCCESS);
    EXPECT(d.value == 2);
    RC(imx_erase_all_pending(CAN, &tsd_csb, &tsd_csd, 0), IMX_SUCCESS);
    /* Configuring it again activates it. */
    RC(imx_configure_sensor(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
    RC(imx_write_tsd(CAN, &tsd_csb, &tsd_csd, u32(3)), IMX_SUCCESS);
    RC(imx_read_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &d), IMX_SUCCESS);
    RC(imx_erase_all_pending(CAN, &tsd_csb, &tsd_csd, 0), IMX_SUCCESS);
}

static void test_stats_and_validate(void) {
    mm2_stats_t st;
    control_sensor_data_t zero = {0, 0};
    tsd_evt_value_t v[4];
    uint16_t filled;
    uint32_t i;

    for (i = 0; i < 12; i++) {
        RC(imx_write_tsd(CAN, &tsd_csb, &tsd_csd, u32(i)), IMX_SUCCESS);
    }
    RC(imx_read_bulk_samples(CAN, &tsd_csb, &tsd_csd, v, 4, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 4);
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(st.used_sectors >= 2 && st.used_sectors + st.free_sectors == st.total_sectors);
    EXPECT(st.new_records == 8 + 1); /* 8 TSD + the HOSTED plain event */
    EXPECT(st.pending_records == 4);
    EXPECT(st.active_sensors == 2);
    EXPECT(st.configured_sensors == 9); /* tsd, evt, 2 for isolation, 4 GPS, plain */
    EXPECT(st.total_allocations >= st.used_sectors);
    EXPECT(st.space_efficiency_percent > 0);
    EXPECT(st.dropped_ram_full == 0 && st.rejected_writes == 0);

    RC(imx_validate_sector_chains(GW, NULL, NULL), IMX_SUCCESS);
    RC(imx_validate_sector_chains(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
    RC(imx_validate_sector_chains(CAN, &tsd_csb, &zero), IMX_INVALID_ENTRY);
    RC(imx_validate_sector_chains(CAN, &tsd_csb, NULL), IMX_INVALID_PARAMETER);
    RC(imx_validate_sector_chains(CAN, NULL, &tsd_csd), IMX_INVALID_PARAMETER);
    RC(imx_validate_sector_chains(BAD, &tsd_csb, &tsd_csd), IMX_INVALID_PARAMETER);
    RC(imx_erase_all_pending(CAN, &tsd_csb, &tsd_csd, 4), IMX_SUCCESS);
}

/* Power event, refused writes, working reads and ACKs, abort. */
static void test_power(void) {
    tsd_evt_data_t d;
    mm2_stats_t st;

    RC(handle_power_abort_recovery(), IMX_INVALID_STATE);
    RC(imx_set_utc_available(0), IMX_SUCCESS); /* linux: UTC stays available */
    EXPECT(imx_memory_manager_ready() == 1);

    RC(imx_power_event_detected(), IMX_SUCCESS);
    EXPECT(imx_memory_manager_ready() == 0);
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(st.powering_down == 1);
    RC(imx_write_tsd(CAN, &tsd_csb, &tsd_csd, u32(1)), IMX_POWERING_DOWN);
    RC(imx_write_evt(GW, &evt_csb, &evt_csd, u32(1), 1), IMX_POWERING_DOWN);
    RC(imx_write_event_with_gps(GW, &evt_csb, &evt_csd, u32(1), 0, 0, 0, 0), IMX_POWERING_DOWN);
    RC(imx_read_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &d), IMX_SUCCESS);
    RC(imx_revert_all_pending(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
    RC(imx_read_next_tsd_evt(CAN, &tsd_csb, &tsd_csd, &d), IMX_SUCCESS);
    RC(imx_erase_all_pending(CAN, &tsd_csb, &tsd_csd, 1), IMX_SUCCESS);
    RC(imx_power_event_detected(), IMX_SUCCESS); /* again: still powering down */
    RC(handle_power_abort_recovery(), IMX_SUCCESS);
    RC(handle_power_abort_recovery(), IMX_INVALID_STATE);
    EXPECT(imx_memory_manager_ready() == 1);
    RC(imx_write_tsd(CAN, &tsd_csb, &tsd_csd, u32(2)), IMX_SUCCESS);
    EXPECT(imx_get_new_sample_count(CAN, &tsd_csb, &tsd_csd) == 8);
}

/* The v1 names on csb/csd arrays. */
static void test_v1(void) {
    imx_control_sensor_block_t csb[3] = {{700, 250}, {701, 0}, {702, 0}};
    control_sensor_data_t csd[3];
    tsd_evt_data_t d;
    uint32_t value = 0;
    int i;

    memset(csd, 0, sizeof csd);
    RC(imx_configure_sensor(GW, &csb[0], &csd[0]), IMX_SUCCESS);
    RC(imx_configure_sensor(GW, &csb[1], &csd[1]), IMX_SUCCESS);
    /* csb[2] is left unconfigured. */

    RC(write_tsd_evt(GW, csb, csd, 0, 41, false), IMX_SUCCESS); /* TSD */
    RC(write_tsd_evt(GW, csb, csd, 1, 42, false), IMX_SUCCESS); /* EVT at the clock */
    RC(write_tsd_evt_time(GW, csb, csd, 1, 43, 1700000000u), IMX_SUCCESS);
    RC(write_tsd_evt_time(GW, csb, csd, 0, 44, 5u), IMX_SUCCESS); /* TSD: time from the period */
    RC(write_tsd_evt(GW, csb, csd, 2, 1, false), IMX_INVALID_ENTRY);
    RC(write_tsd_evt_time(GW, csb, csd, 2, 1, 1), IMX_INVALID_ENTRY);
    RC(write_tsd_evt(GW, NULL, csd, 0, 1, false), IMX_INVALID_PARAMETER);
    RC(write_tsd_evt(BAD, csb, csd, 0, 1, false), IMX_INVALID_PARAMETER);
    RC(write_tsd_evt(CAN, csb, csd, 0, 1, false), IMX_INVALID_ENTRY);

    RC(read_tsd_evt(GW, csb, csd, 0, NULL), IMX_INVALID_PARAMETER);
    RC(read_tsd_evt(GW, csb, csd, 2, &value), IMX_INVALID_ENTRY);
    RC(read_tsd_evt(GW, csb, csd, 0, &value), IMX_SUCCESS);
    EXPECT(value == 41);
    RC(imx_peek_next_tsd_evt(GW, &csb[1], &csd[1], &d), IMX_SUCCESS);
    EXPECT(d.value == 42 && d.utc_time_ms > 1600000000000ULL);
    RC(read_tsd_evt(GW, csb, csd, 1, &value), IMX_SUCCESS);
    EXPECT(value == 42);
    RC(imx_peek_next_tsd_evt(GW, &csb[1], &csd[1], &d), IMX_SUCCESS);
    EXPECT(d.value == 43 && d.utc_time_ms == 1700000000000ULL);
    RC(read_tsd_evt(GW, csb, csd, 1, &value), IMX_SUCCESS);
    EXPECT(value == 43);

    /* revert: every entry's pending records come back, unconfigured ones are skipped. */
    RC(revert_tsd_evt_pending_data(GW, NULL, csd, 3), IMX_INVALID_PARAMETER);
    RC(revert_tsd_evt_pending_data(BAD, csb, csd, 3), IMX_INVALID_PARAMETER);
    RC(revert_tsd_evt_pending_data(GW, csb, csd, 3), IMX_SUCCESS);
    EXPECT(imx_get_new_sample_count(GW, &csb[0], &csd[0]) == 2);
    EXPECT(imx_get_new_sample_count(GW, &csb[1], &csd[1]) == 2);
    RC(read_tsd_evt(GW, csb, csd, 0, &value), IMX_SUCCESS);
    EXPECT(value == 41);
    RC(read_tsd_evt(GW, csb, csd, 0, &value), IMX_SUCCESS);
    EXPECT(value == 44);
    RC(read_tsd_evt(GW, csb, csd, 0, &value), IMX_NO_DATA);

    RC(erase_tsd_evt(GW, csb, csd, 0), IMX_SUCCESS);
    RC(erase_tsd_evt(GW, csb, csd, 0), IMX_NO_DATA);
    RC(erase_tsd_evt(GW, csb, csd, 2), IMX_INVALID_ENTRY);
    RC(erase_tsd_evt(GW, NULL, NULL, 0), IMX_INVALID_PARAMETER);
    EXPECT(imx_get_total_sample_count(GW, &csb[0], &csd[0]) == 0);
    RC(read_tsd_evt(GW, csb, csd, 1, &value), IMX_SUCCESS);
    RC(read_tsd_evt(GW, csb, csd, 1, &value), IMX_SUCCESS);
    RC(erase_tsd_evt(GW, csb, csd, 1), IMX_SUCCESS);

    /* add_gps_location: GW has a GPS configuration (test_gps); the fix is imx_set_gps_fix's. */
    RC(imx_set_gps_fix(10.5f, 20.5f, 30.5f, 40.5f), IMX_SUCCESS);
    RC(write_tsd_evt(GW, csb, csd, 1, 45, true), IMX_SUCCESS);
    RC(read_tsd_evt(GW, csb, csd, 1, &value), IMX_SUCCESS);
    EXPECT(value == 45);
    RC(erase_tsd_evt(GW, csb, csd, 1), IMX_SUCCESS);
    for (i = 0; i < 4; i++) {
        RC(read_tsd_evt(GW, gps_csb, gps_csd, (uint16_t)i, &value), IMX_SUCCESS);
        EXPECT(value == float_bits(10.5f + 10.0f * (float)i));
        RC(erase_tsd_evt(GW, gps_csb, gps_csd, (uint16_t)i), IMX_SUCCESS);
    }
}

static void test_result_strings(void) {
    imx_result_t rc;

    for (rc = IMX_CORRUPTED; rc <= IMX_SUCCESS; rc++) {
        EXPECT(imx_result_string(rc) != NULL && strncmp(imx_result_string(rc), "IMX_", 4) == 0);
    }
    EXPECT(strcmp(imx_result_string(12345), "unknown imx_result_t") == 0);
}

/* Shutdown closes; old handles are refused after a new init. */
static void test_shutdown_and_reinit(void) {
    control_sensor_data_t old = tsd_csd;

    RC(imx_memory_manager_shutdown(1000), IMX_SUCCESS);
    EXPECT(imx_memory_manager_ready() == 0);
    RC(imx_write_tsd(CAN, &tsd_csb, &old, u32(1)), IMX_NOT_INITIALIZED);
    RC(imx_memory_manager_shutdown(0), IMX_NOT_INITIALIZED);

    RC(imx_memory_manager_init(0), IMX_SUCCESS);
    RC(imx_write_tsd(CAN, &tsd_csb, &old, u32(1)), IMX_INVALID_ENTRY); /* stale instance */
    RC(imx_configure_sensor(CAN, &tsd_csb, &tsd_csd), IMX_SUCCESS);
    EXPECT(tsd_csd.mm2_instance != old.mm2_instance);
    RC(imx_write_tsd(CAN, &tsd_csb, &tsd_csd, u32(1)), IMX_SUCCESS);
    EXPECT(imx_get_total_sample_count(CAN, &tsd_csb, &tsd_csd) == 1); /* mock: nothing survived */
    RC(imx_memory_manager_shutdown(0), IMX_SUCCESS);
}

/* A full pool: RejectNew refuses, DropOldest drops unsent data but never pending data. */
static void test_overflow(void) {
    mm2_config_t cfg;
    mm2_stats_t st;
    imx_control_sensor_block_t e = {1, 0};
    control_sensor_data_t ed;
    tsd_evt_value_t v[64];
    uint16_t filled;
    uint32_t written = 0, i;
    imx_result_t rc;

    memset(&cfg, 0, sizeof cfg);
    cfg.platform = "linux";
    cfg.dir = "";
    cfg.pool_size = 1024; /* 32 sectors */
    cfg.overflow = MM2_OVERFLOW_REJECT_NEW;
    RC(imx_memory_manager_init_config(&cfg), IMX_SUCCESS);
    memset(&ed, 0, sizeof ed);
    RC(imx_configure_sensor(GW, &e, &ed), IMX_SUCCESS);
    while ((rc = imx_write_evt(GW, &e, &ed, u32(written), 1000 + written)) == IMX_SUCCESS) {
        written++;
    }
    EXPECT(rc == IMX_OUT_OF_MEMORY);
    EXPECT(written >= 64);
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(st.free_sectors == 0 && st.rejected_writes == 1 && st.dropped_ram_full == 0);
    EXPECT(st.utilization_percent == 100 && st.pressure == MM2_PRESSURE_CRITICAL);
    EXPECT(imx_get_new_sample_count(GW, &e, &ed) == written);
    /* Drain one batch: room again. */
    RC(imx_read_bulk_samples(GW, &e, &ed, v, 64, 64, &filled), IMX_SUCCESS);
    EXPECT(filled == 64 && v[0].sequence == 1 && v[63].value == 63);
    RC(imx_erase_all_pending(GW, &e, &ed, filled), IMX_SUCCESS);
    RC(imx_write_evt(GW, &e, &ed, u32(written), 1000 + written), IMX_SUCCESS);
    RC(imx_validate_sector_chains(GW, NULL, NULL), IMX_SUCCESS);
    RC(imx_memory_manager_shutdown(0), IMX_SUCCESS);

    cfg.overflow = MM2_OVERFLOW_DROP_OLDEST;
    RC(imx_memory_manager_init_config(&cfg), IMX_SUCCESS);
    memset(&ed, 0, sizeof ed);
    RC(imx_configure_sensor(GW, &e, &ed), IMX_SUCCESS);
    for (i = 0; i < 1000; i++) {
        RC(imx_write_evt(GW, &e, &ed, u32(i), 1000 + i), IMX_SUCCESS);
    }
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(st.dropped_ram_full > 0);
    EXPECT(st.dropped_ram_full + imx_get_new_sample_count(GW, &e, &ed) == 1000);
    /* The oldest surviving record shows the gap in its sequence number. */
    RC(imx_read_bulk_samples(GW, &e, &ed, v, 1, 1, &filled), IMX_SUCCESS);
    EXPECT(v[0].sequence == st.dropped_ram_full + 1 && v[0].value == st.dropped_ram_full);
    RC(imx_revert_all_pending(GW, &e, &ed), IMX_SUCCESS);
    /* Everything pending: nothing can be dropped, so once the tail sector is
     * full writes are refused. */
    while (imx_read_bulk_samples(GW, &e, &ed, v, 64, 64, &filled) == IMX_SUCCESS) {
    }
    for (i = 0; i < 100 && (rc = imx_write_evt(GW, &e, &ed, u32(i), 5000 + i)) == IMX_SUCCESS; i++) {
    }
    EXPECT(rc == IMX_OUT_OF_MEMORY);
    written = (uint32_t)st.dropped_ram_full;
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(st.dropped_ram_full == written);
    RC(imx_validate_sector_chains(GW, NULL, NULL), IMX_SUCCESS);
    RC(imx_memory_manager_shutdown(0), IMX_SUCCESS);
}

/* wiced: UTC must be set before writes; the footprint fits 12 KB. */
static void test_wiced(void) {
    mm2_config_t cfg;
    mm2_stats_t st;
    imx_control_sensor_block_t t = {1, 100};
    control_sensor_data_t td;

    memset(&cfg, 0, sizeof cfg);
    cfg.platform = "WICED";
    cfg.dir = NULL; /* MM2_DIR is unset in this run: mock */
    RC(imx_memory_manager_init_config(&cfg), IMX_SUCCESS);
    memset(&td, 0, sizeof td);
    RC(imx_configure_sensor(GW, &t, &td), IMX_SUCCESS);
    EXPECT(imx_memory_manager_ready() == 0);
    RC(imx_write_tsd(GW, &t, &td, u32(1)), IMX_UTC_NOT_AVAILABLE);
    RC(write_tsd_evt(GW, &t, &td, 0, 1, false), IMX_UTC_NOT_AVAILABLE);
    RC(imx_set_utc_available(1), IMX_SUCCESS);
    EXPECT(imx_memory_manager_ready() == 1);
    RC(imx_write_tsd(GW, &t, &td, u32(1)), IMX_SUCCESS);
    RC(imx_set_utc_available(0), IMX_SUCCESS);
    RC(imx_write_tsd(GW, &t, &td, u32(2)), IMX_UTC_NOT_AVAILABLE);
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(strcmp(st.platform, "wiced") == 0);
    EXPECT(st.footprint_bytes <= 12288);
    EXPECT(st.total_sectors == 128);
    EXPECT(st.utc_available == 0);
    RC(imx_memory_manager_shutdown(0), IMX_SUCCESS);
}

/* The disk backend: what shutdown leaves is recovered by the next init, with
 * acknowledged records gone, unacknowledged ones (pending included) back in
 * order with their sequence numbers, and numbering continuing. */
static void test_disk(void) {
    mm2_config_t cfg;
    mm2_stats_t st;
    imx_control_sensor_block_t e = {1, 0}, t = {2, 100};
    control_sensor_data_t ed, td;
    tsd_evt_value_t v[32];
    tsd_evt_data_t d;
    uint16_t filled;
    uint32_t i;

    memset(&cfg, 0, sizeof cfg);
    cfg.platform = "linux";
    cfg.dir = "store";
    RC(imx_memory_manager_init_config(&cfg), IMX_SUCCESS);
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(strcmp(st.backend, "disk") == 0);
    memset(&ed, 0, sizeof ed);
    memset(&td, 0, sizeof td);
    RC(imx_configure_sensor(CAN, &e, &ed), IMX_SUCCESS);
    RC(imx_configure_sensor(CAN, &t, &td), IMX_SUCCESS);
    for (i = 0; i < 20; i++) {
        RC(imx_write_evt(CAN, &e, &ed, u32(i), 1000 + i), IMX_SUCCESS);
    }
    for (i = 0; i < 10; i++) {
        RC(imx_write_tsd(CAN, &t, &td, u32(500 + i)), IMX_SUCCESS);
    }
    RC(imx_read_bulk_samples(CAN, &e, &ed, v, 5, 5, &filled), IMX_SUCCESS);
    RC(imx_erase_all_pending(CAN, &e, &ed, 5), IMX_SUCCESS);
    RC(imx_read_bulk_samples(CAN, &e, &ed, v, 3, 3, &filled), IMX_SUCCESS); /* left pending */
    RC(imx_power_event_detected(), IMX_SUCCESS);
    RC(imx_write_evt(CAN, &e, &ed, u32(99), 1), IMX_POWERING_DOWN);
    RC(handle_power_abort_recovery(), IMX_SUCCESS);
    RC(imx_memory_manager_shutdown(5000), IMX_SUCCESS);

    RC(imx_memory_manager_init_config(&cfg), IMX_SUCCESS);
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(st.records_recovered == 25);
    EXPECT(st.records_skipped == 0);
    RC(imx_write_evt(CAN, &e, &ed, u32(1), 1), IMX_INVALID_ENTRY); /* stale handle */
    RC(imx_configure_sensor(CAN, &e, &ed), IMX_SUCCESS);
    RC(imx_configure_sensor(CAN, &t, &td), IMX_SUCCESS);
    EXPECT(imx_get_new_sample_count(CAN, &e, &ed) == 15);
    EXPECT(imx_get_new_sample_count(CAN, &t, &td) == 10);
    RC(imx_read_bulk_samples(CAN, &e, &ed, v, 32, 32, &filled), IMX_SUCCESS);
    EXPECT(filled == 15);
    for (i = 0; i < filled; i++) {
        EXPECT(v[i].sequence == 6 + i && v[i].value == 5 + i && v[i].timestamp == 1005 + i);
    }
    RC(imx_read_bulk_samples(CAN, &t, &td, v, 32, 32, &filled), IMX_SUCCESS);
    EXPECT(filled == 10);
    for (i = 0; i < filled; i++) {
        EXPECT(v[i].sequence == 1 + i && v[i].value == 500 + i);
    }
    RC(imx_erase_all_pending(CAN, &e, &ed, 15), IMX_SUCCESS);
    RC(imx_erase_all_pending(CAN, &t, &td, 10), IMX_SUCCESS);
    RC(imx_write_evt(CAN, &e, &ed, u32(20), 2000), IMX_SUCCESS);
    RC(imx_read_next_tsd_evt(CAN, &e, &ed, &d), IMX_SUCCESS);
    EXPECT(d.sequence > 20); /* numbering never reuses a number */
    RC(imx_validate_sector_chains(CAN, &e, &ed), IMX_SUCCESS);
    RC(imx_memory_manager_shutdown(0), IMX_SUCCESS);
}

static int env_mode(int argc, char **argv) {
    imx_result_t want;
    mm2_stats_t st;

    if (argc < 3) {
        fprintf(stderr, "usage: api_test env CODE [PLATFORM [BACKEND]]\n");
        return 2;
    }
    want = (imx_result_t)atoi(argv[2]);
    RC(imx_memory_manager_init(0), want);
    if (want == IMX_SUCCESS) {
        RC(imx_get_memory_stats(&st), IMX_SUCCESS);
        if (argc > 3) {
            EXPECT(strcmp(st.platform, argv[3]) == 0);
        }
        if (argc > 4) {
            EXPECT(strcmp(st.backend, argv[4]) == 0);
        }
        RC(imx_memory_manager_shutdown(0), IMX_SUCCESS);
    } else {
        EXPECT(imx_memory_manager_ready() == 0);
    }
    return finish("api_test env");
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "env") == 0) {
        return env_mode(argc, argv);
    }
    test_not_initialized();
    test_init_errors();
    test_lifecycle_and_stats();
    test_configure();
    test_bad_sensor_inputs();
    test_tsd_read_ack_nack();
    test_evt();
    test_source_isolation();
    test_gps();
    test_activate_deactivate();
    test_stats_and_validate();
    test_power();
    test_v1();
    test_result_strings();
    test_shutdown_and_reinit();
    test_overflow();
    test_wiced();
    test_disk();
    test_not_initialized();
    return finish("api_test");
}
