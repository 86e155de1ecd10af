/*
 * api_test.c - the test firmware calls every function of mm2_api.h with
 * its shipped argument list, every bad input, and the behaviour the upload
 * path relies on. It is compiled with the firmware's own common.h (result
 * values, csb and csd layouts libmm2.a cannot know) and mm2_api.c.
 *
 *   api_test                      the whole sequence; run it in an empty
 *                                 scratch directory (the disk test writes there)
 *   api_test env RESULT PLAT BACK imx_memory_manager_init(0) under the caller's
 *                                 MM2_PLATFORM / MM2_DIR must return the
 *                                 enumerator RESULT and, on success, run the
 *                                 platform PLAT with the backend BACK
 */
#include <stddef.h>
#include <string.h>

#include "check.h"

extern float fw_lat, fw_lon, fw_alt, fw_speed;

static const imatrix_upload_source_t GW = IMX_UPLOAD_GATEWAY;
static const imatrix_upload_source_t BLE = IMX_UPLOAD_BLE_DEVICE;
static const imatrix_upload_source_t CAN = IMX_UPLOAD_CAN_DEVICE;
static const imatrix_upload_source_t BAD = IMX_UPLOAD_NO_SOURCES;

static imx_data_32_t u32(uint32_t v) {
    imx_data_32_t d;
    memset(&d, 0, sizeof d);
    d.uint_32bit = v;
    return d;
}

static uint32_t bits(float f) {
    imx_data_32_t d;
    d.float_32bit = f;
    return d.uint_32bit;
}

/* sensor sets up a csb as the firmware would and zeroes its csd. */
static void sensor(imx_control_sensor_block_t *csb, control_sensor_data_t *csd, const char *name,
                   uint32_t id, uint32_t sample_rate) {
    memset(csb, 0, sizeof *csb);
    strncpy(csb->name, name, sizeof csb->name - 1);
    csb->name_hash = (uint8_t)(name[0] * 31 + name[1]);
    csb->enabled = 1;
    csb->id = id;
    csb->sample_rate = sample_rate;
    csb->poll_rate = 1000;
    memset(csd, 0, sizeof *csd);
}

/* scribble overwrites every csd field except mmcb, as the firmware does
 * between calls. */
static void scribble(control_sensor_data_t *csd, unsigned seed) {
    csd->last_sample_time = 0x1122334455667788ull * seed;
    csd->no_samples = (uint16_t)(seed * 7);
    csd->no_pending = (uint16_t)(seed * 13);
    csd->errors = seed;
    csd->last_poll_time = seed * 3;
    csd->condition_started_time = ~seed;
    csd->last_raw_value.uint_32bit = seed * 5;
    csd->last_value.uint_32bit = seed * 11;
    csd->error = seed & 0xff;
    csd->last_error = (seed >> 1) & 0xff;
    csd->update_now = seed & 1;
    csd->warning = seed & 3;
    csd->active = seed & 1;
    csd->valid = 0;
}

/* outside_mmcb_equal compares two csds byte by byte, except mmcb. */
static int outside_mmcb_equal(const control_sensor_data_t *a, const control_sensor_data_t *b) {
    size_t off = offsetof(control_sensor_data_t, mmcb), end = off + sizeof a->mmcb;
    return memcmp(a, b, off) == 0 &&
           memcmp((const char *)a + end, (const char *)b + end, sizeof *a - end) == 0;
}

static void test_layouts(void) {
    EXPECT(sizeof(tsd_evt_value_t) == 16 && offsetof(tsd_evt_value_t, timestamp) == 8);
    EXPECT(sizeof(tsd_evt_data_t) == 16 && offsetof(tsd_evt_data_t, utc_time_ms) == 8);
    EXPECT(sizeof(mm2_stats_t) == 48);
    EXPECT(offsetof(imx_control_sensor_block_t, id) != 32); /* not the public 2018 layout */
    EXPECT((int)IMX_NO_DATA == 34 && (int)IMX_INVALID_PARAMETER == 81);
}

/* Before imx_memory_manager_init every call is refused. */
static void test_not_initialized(void) {
    imx_control_sensor_block_t csb;
    control_sensor_data_t csd;
    tsd_evt_value_t v[2];
    tsd_evt_data_t d;
    uint16_t filled = 7;
    mm2_stats_t st;
    mm2_sensor_state_t ss;

    sensor(&csb, &csd, "Temp", 1, 0);
    EXPECT(imx_memory_manager_ready() == 0);
    RC(imx_configure_sensor(GW, &csb, &csd), IMX_INIT_ERROR);
    RC(imx_activate_sensor(GW, &csb, &csd), IMX_INIT_ERROR);
    RC(imx_deactivate_sensor(GW, &csb, &csd), IMX_INIT_ERROR);
    RC(imx_recover_sensor_disk_data(GW, &csb, &csd), IMX_INIT_ERROR);
    RC(imx_write_tsd(GW, &csb, &csd, u32(1)), IMX_INIT_ERROR);
    RC(imx_write_evt(GW, &csb, &csd, u32(1), 5), IMX_INIT_ERROR);
    RC(imx_write_event_with_gps(GW, &csb, &csd, u32(1)), IMX_INIT_ERROR);
    RC(imx_write_gps_location(GW, 0), IMX_INIT_ERROR);
    RC(imx_init_gps_config_for_source(GW, &csb, &csd, 1, 0, 0xFFFF, 0xFFFF, 0xFFFF), IMX_INIT_ERROR);
    RC(imx_read_bulk_samples(GW, &csb, &csd, v, 2, 2, &filled), IMX_INIT_ERROR);
    EXPECT(filled == 0);
    RC(imx_peek_bulk_samples(GW, &csb, &csd, v, 2, 0, 2, &filled), IMX_INIT_ERROR);
    RC(imx_read_next_tsd_evt(GW, &csb, &csd, &d), IMX_INIT_ERROR);
    RC(imx_peek_next_tsd_evt(GW, &csb, &csd, 0, &d), IMX_INIT_ERROR);
    RC(imx_erase_all_pending(GW, &csb, &csd), IMX_INIT_ERROR);
    RC(imx_revert_all_pending(GW, &csb, &csd), IMX_INIT_ERROR);
    EXPECT(!imx_has_pending_data(GW, &csb, &csd));
    EXPECT(imx_get_new_sample_count(GW, &csb, &csd) == 0);
    EXPECT(imx_get_total_sample_count(GW, &csb, &csd) == 0);
    RC(imx_memory_manager_shutdown(GW, &csb, &csd, 100), IMX_INIT_ERROR);
    RC(imx_get_memory_stats(&st), IMX_INIT_ERROR);
    RC(imx_get_memory_stats(NULL), IMX_INIT_ERROR);
    RC(imx_get_sensor_state(GW, &csb, &csd, &ss), IMX_INIT_ERROR);
    RC(imx_validate_sector_chains(GW, NULL, NULL), IMX_INIT_ERROR);
    RC(imx_clear_all_disk_history(0), IMX_INIT_ERROR);
    RC(process_memory_manager(0), IMX_INIT_ERROR);
    RC(handle_power_abort_recovery(), IMX_INIT_ERROR);
    RC(imx_set_utc_available(1), IMX_INIT_ERROR);
    imx_power_event_detected(); /* void: nothing to check but that it returns */
    EXPECT(imx_force_garbage_collection(GW, &csb, &csd) == 0);
}

/* Every sensor call with a NULL block, a bad source, an unconfigured or
 * foreign csd. */
static void test_bad_input(void) {
    imx_control_sensor_block_t csb, other;
    control_sensor_data_t csd, zero, copy;
    tsd_evt_value_t v[4];
    tsd_evt_data_t d;
    uint16_t filled = 9;
    mm2_sensor_state_t ss;
    imatrix_upload_source_t far = (imatrix_upload_source_t)200;

    sensor(&csb, &csd, "Bad", 7, 0);
    sensor(&other, &zero, "Other", 8, 0);
    RC(imx_configure_sensor(GW, &csb, &csd), IMX_SUCCESS);

    RC(imx_configure_sensor(GW, NULL, &csd), IMX_INVALID_PARAMETER);
    RC(imx_configure_sensor(GW, &csb, NULL), IMX_INVALID_PARAMETER);
    RC(imx_configure_sensor(BAD, &csb, &csd), IMX_INVALID_PARAMETER);
    RC(imx_configure_sensor(far, &csb, &csd), IMX_INVALID_PARAMETER);
    RC(imx_activate_sensor(BAD, &csb, &csd), IMX_INVALID_PARAMETER);
    RC(imx_deactivate_sensor(GW, NULL, &csd), IMX_INVALID_PARAMETER);
    RC(imx_recover_sensor_disk_data(GW, &csb, NULL), IMX_INVALID_PARAMETER);
    RC(imx_write_tsd(GW, NULL, &csd, u32(1)), IMX_INVALID_PARAMETER);
    RC(imx_write_evt(BAD, &csb, &csd, u32(1), 1), IMX_INVALID_PARAMETER);
    RC(imx_write_event_with_gps(GW, &csb, NULL, u32(1)), IMX_INVALID_PARAMETER);
    RC(imx_write_gps_location(BAD, 0), IMX_INVALID_PARAMETER);
    RC(imx_read_bulk_samples(GW, &csb, &csd, NULL, 4, 4, &filled), IMX_INVALID_PARAMETER);
    EXPECT(filled == 0);
    RC(imx_read_bulk_samples(GW, &csb, &csd, v, 4, 4, NULL), IMX_INVALID_PARAMETER);
    filled = 9;
    RC(imx_read_bulk_samples(GW, &csb, &csd, v, 0, 4, &filled), IMX_INVALID_PARAMETER);
    EXPECT(filled == 0);
    RC(imx_read_bulk_samples(BAD, &csb, &csd, v, 4, 4, &filled), IMX_INVALID_PARAMETER);
    RC(imx_peek_bulk_samples(GW, NULL, &csd, v, 4, 0, 4, &filled), IMX_INVALID_PARAMETER);
    RC(imx_read_next_tsd_evt(GW, &csb, &csd, NULL), IMX_INVALID_PARAMETER);
    RC(imx_peek_next_tsd_evt(GW, &csb, &csd, 0, NULL), IMX_INVALID_PARAMETER);
    RC(imx_erase_all_pending(BAD, &csb, &csd), IMX_INVALID_PARAMETER);
    RC(imx_revert_all_pending(GW, NULL, &csd), IMX_INVALID_PARAMETER);
    EXPECT(!imx_has_pending_data(BAD, &csb, &csd));
    EXPECT(imx_get_new_sample_count(GW, NULL, &csd) == 0);
    EXPECT(imx_get_total_sample_count(GW, &csb, NULL) == 0);
    RC(imx_memory_manager_shutdown(BAD, &csb, &csd, 0), IMX_INVALID_PARAMETER);
    RC(imx_get_memory_stats(NULL), IMX_INVALID_PARAMETER);
    RC(imx_get_sensor_state(GW, &csb, &csd, NULL), IMX_INVALID_PARAMETER);
    RC(imx_validate_sector_chains(GW, &csb, NULL), IMX_INVALID_PARAMETER);

    /* Never configured (zeroed mmcb): INVALID_ENTRY everywhere. */
    RC(imx_write_evt(GW, &other, &zero, u32(1), 1), IMX_INVALID_ENTRY);
    RC(imx_read_bulk_samples(GW, &other, &zero, v, 4, 4, &filled), IMX_INVALID_ENTRY);
    RC(imx_read_next_tsd_evt(GW, &other, &zero, &d), IMX_INVALID_ENTRY);
    RC(imx_erase_all_pending(GW, &other, &zero), IMX_INVALID_ENTRY);
    RC(imx_revert_all_pending(GW, &other, &zero), IMX_INVALID_ENTRY);
    RC(imx_activate_sensor(GW, &other, &zero), IMX_INVALID_ENTRY);
    RC(imx_recover_sensor_disk_data(GW, &other, &zero), IMX_INVALID_ENTRY);
    RC(imx_get_sensor_state(GW, &other, &zero, &ss), IMX_INVALID_ENTRY);
    RC(imx_memory_manager_shutdown(GW, &other, &zero, 0), IMX_INVALID_ENTRY);
    RC(imx_validate_sector_chains(GW, &other, &zero), IMX_INVALID_ENTRY);
    /* A configured csd used with another source or another csb->id. */
    RC(imx_write_evt(BLE, &csb, &csd, u32(1), 1), IMX_INVALID_ENTRY);
    RC(imx_write_evt(GW, &other, &csd, u32(1), 1), IMX_INVALID_ENTRY);
    /* A csd copied to another csd is the same sensor (the reference is the state). */
    copy = csd;
    RC(imx_write_evt(GW, &csb, &copy, u32(1), 1), IMX_SUCCESS);
    /* Kinds: TSD on an event sensor, an event on a TSD sensor, another rate. */
    RC(imx_write_tsd(GW, &csb, &csd, u32(1)), IMX_INVALID_PARAMETER);
    other.sample_rate = 1000;
    RC(imx_configure_sensor(GW, &other, &zero), IMX_SUCCESS);
    RC(imx_write_evt(GW, &other, &zero, u32(1), 1), IMX_INVALID_PARAMETER);
    other.sample_rate = 2000;
    RC(imx_configure_sensor(GW, &other, &zero), IMX_INVALID_PARAMETER);
    other.sample_rate = 1000;
    EXPECT(imx_get_total_sample_count(GW, &csb, &csd) == 1);
    RC(imx_read_bulk_samples(GW, &csb, &csd, v, 4, 4, &filled), IMX_SUCCESS);
    RC(imx_erase_all_pending(GW, &csb, &csd), IMX_SUCCESS);
    RC(imx_init_gps_config_for_source(GW, NULL, &csd, 1, 0, 0xFFFF, 0xFFFF, 0xFFFF),
       IMX_INVALID_PARAMETER);
}

/* Two sensors whose names share their first bytes stay apart: only csb->id
 * names a sensor. */
static void test_names_do_not_collide(void) {
    imx_control_sensor_block_t csb[2];
    control_sensor_data_t csd[2];
    tsd_evt_data_t d;

    sensor(&csb[0], &csd[0], "Speed_front_left_wheel", 101, 0);
    sensor(&csb[1], &csd[1], "Speed_front_left_wheel", 102, 0); /* same name, even */
    RC(imx_configure_sensor(CAN, &csb[0], &csd[0]), IMX_SUCCESS);
    RC(imx_configure_sensor(CAN, &csb[1], &csd[1]), IMX_SUCCESS);
    RC(imx_write_evt(CAN, &csb[0], &csd[0], u32(1), 10), IMX_SUCCESS);
    RC(imx_write_evt(CAN, &csb[1], &csd[1], u32(2), 20), IMX_SUCCESS);
    RC(imx_write_evt(CAN, &csb[1], &csd[1], u32(3), 30), IMX_SUCCESS);
    EXPECT(imx_get_new_sample_count(CAN, &csb[0], &csd[0]) == 1);
    EXPECT(imx_get_new_sample_count(CAN, &csb[1], &csd[1]) == 2);
    RC(imx_read_next_tsd_evt(CAN, &csb[0], &csd[0], &d), IMX_SUCCESS);
    EXPECT(d.value == 1 && d.utc_time_ms == 10);
    RC(imx_read_next_tsd_evt(CAN, &csb[1], &csd[1], &d), IMX_SUCCESS);
    EXPECT(d.value == 2 && d.utc_time_ms == 20);
    RC(imx_erase_all_pending(CAN, &csb[0], &csd[0]), IMX_SUCCESS);
    RC(imx_erase_all_pending(CAN, &csb[1], &csd[1]), IMX_SUCCESS);
    EXPECT(imx_get_total_sample_count(CAN, &csb[0], &csd[0]) == 0);
    EXPECT(imx_get_total_sample_count(CAN, &csb[1], &csd[1]) == 1);
    RC(imx_clear_all_disk_history(0), IMX_SUCCESS);
}

/* The firmware overwrites every csd field but mmcb between calls; the
 * library writes nothing of the csd but mmcb (and, for events, last_value
 * and valid), and nothing of the csb. */
static void test_state_only_in_mmcb(void) {
    imx_control_sensor_block_t csb, csb_before;
    control_sensor_data_t csd, before;
    tsd_evt_value_t v[8];
    uint16_t filled = 0;
    unsigned seed;

    sensor(&csb, &csd, "Battery", 201, 1000);
    scribble(&csd, 3);
    before = csd;
    csb_before = csb;
    RC(imx_configure_sensor(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd), IMX_SUCCESS);
    EXPECT(outside_mmcb_equal(&before, &csd));
    for (seed = 1; seed <= 5; seed++) {
        scribble(&csd, seed * 97);
        before = csd;
        RC(imx_write_tsd(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd, u32(seed)), IMX_SUCCESS);
        EXPECT(imx_get_new_sample_count(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd) == seed);
        EXPECT(outside_mmcb_equal(&before, &csd));
    }
    before = csd;
    RC(imx_read_bulk_samples(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd, v, 8, 8, &filled), IMX_SUCCESS);
    EXPECT(filled == 5 && v[0].value == 1 && v[4].value == 5);
    EXPECT(v[0].timestamp > 1600000000000ull && v[4].timestamp >= v[0].timestamp); /* TSD: the clock */
    RC(imx_revert_all_pending(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd), IMX_SUCCESS);
    RC(imx_deactivate_sensor(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd), IMX_SUCCESS);
    RC(imx_activate_sensor(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd), IMX_SUCCESS);
    RC(imx_erase_all_pending(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd), IMX_SUCCESS);
    EXPECT(outside_mmcb_equal(&before, &csd));
    EXPECT(memcmp(&csb, &csb_before, sizeof csb) == 0);

    /* An event write sets last_value and valid, as the original did. */
    sensor(&csb, &csd, "Door", 202, 0);
    RC(imx_configure_sensor(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd), IMX_SUCCESS);
    scribble(&csd, 8);
    RC(imx_write_evt(IMX_UPLOAD_HOSTED_DEVICE, &csb, &csd, u32(77), 1234), IMX_SUCCESS);
    EXPECT(csd.last_value.uint_32bit == 77 && csd.valid == 1);
    RC(imx_clear_all_disk_history(0), IMX_SUCCESS);
}

/* What the upload path relies on. */
static void test_upload_behaviour(void) {
    imx_control_sensor_block_t csb;
    control_sensor_data_t csd;
    tsd_evt_value_t v[16];
    tsd_evt_data_t d;
    uint16_t filled = 0;
    uint32_t i;

    sensor(&csb, &csd, "Odometer", 301, 0);
    RC(imx_configure_sensor(CAN, &csb, &csd), IMX_SUCCESS);
    RC(imx_activate_sensor(CAN, &csb, &csd), IMX_SUCCESS);
    RC(imx_recover_sensor_disk_data(CAN, &csb, &csd), IMX_SUCCESS);
    /* Nothing there: NO_DATA with 0 filled; erase/revert with nothing pending succeed. */
    filled = 5;
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 16, 4, &filled), IMX_NO_DATA);
    EXPECT(filled == 0);
    RC(imx_read_next_tsd_evt(CAN, &csb, &csd, &d), IMX_NO_DATA);
    RC(imx_erase_all_pending(CAN, &csb, &csd), IMX_SUCCESS);
    RC(imx_revert_all_pending(CAN, &csb, &csd), IMX_SUCCESS);
    for (i = 0; i < 10; i++) {
        RC(imx_write_evt(CAN, &csb, &csd, u32(i), 1000 + i), IMX_SUCCESS);
    }
    /* Requested 0: NO_DATA. */
    filled = 5;
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 16, 0, &filled), IMX_NO_DATA);
    EXPECT(filled == 0);
    /* Repeated reads accumulate pending. */
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 16, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 4 && v[0].value == 0 && v[0].timestamp == 1000 && v[3].value == 3);
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 16, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 4 && v[0].value == 4);
    EXPECT(imx_has_pending_data(CAN, &csb, &csd));
    EXPECT(imx_get_new_sample_count(CAN, &csb, &csd) == 2);
    EXPECT(imx_get_total_sample_count(CAN, &csb, &csd) == 10);
#ifdef MM2_CONFIG_H
    /* The firmware's stats fields in mmcb, kept by its MM2_ON_COUNTS. */
    EXPECT(csd.mmcb.pending_by_source[CAN].pending_count == 8 && csd.mmcb.total_records == 10);
#endif
    /* More than is there: SUCCESS with fewer; array_size bounds the read. */
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 1, 10, &filled), IMX_SUCCESS);
    EXPECT(filled == 1 && v[0].value == 8);
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 16, 10, &filled), IMX_SUCCESS);
    EXPECT(filled == 1 && v[0].value == 9);
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 16, 10, &filled), IMX_NO_DATA);
    EXPECT(filled == 0);
    /* NACK redelivers, in order, with the same timestamps. */
    RC(imx_revert_all_pending(CAN, &csb, &csd), IMX_SUCCESS);
    EXPECT(!imx_has_pending_data(CAN, &csb, &csd));
    EXPECT(imx_get_new_sample_count(CAN, &csb, &csd) == 10);
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 16, 16, &filled), IMX_SUCCESS);
    EXPECT(filled == 10);
    for (i = 0; i < 10; i++) {
        EXPECT(v[i].value == i && v[i].timestamp == 1000 + i);
    }
    /* ACK erases everything pending. */
    RC(imx_erase_all_pending(CAN, &csb, &csd), IMX_SUCCESS);
    EXPECT(imx_get_total_sample_count(CAN, &csb, &csd) == 0);
#ifdef MM2_CONFIG_H
    EXPECT(csd.mmcb.pending_by_source[CAN].pending_count == 0 && csd.mmcb.total_records == 0);
#endif
    RC(imx_erase_all_pending(CAN, &csb, &csd), IMX_SUCCESS);

    /* Peeks mark nothing; the start index skips unread records. */
    for (i = 0; i < 6; i++) {
        RC(imx_write_evt(CAN, &csb, &csd, u32(100 + i), 2000 + i), IMX_SUCCESS);
    }
    RC(imx_peek_bulk_samples(CAN, &csb, &csd, v, 16, 2, 3, &filled), IMX_SUCCESS);
    EXPECT(filled == 3 && v[0].value == 102 && v[2].value == 104 && v[2].timestamp == 2004);
    RC(imx_peek_bulk_samples(CAN, &csb, &csd, v, 16, 4, 10, &filled), IMX_SUCCESS);
    EXPECT(filled == 2 && v[1].value == 105);
    RC(imx_peek_bulk_samples(CAN, &csb, &csd, v, 16, 6, 1, &filled), IMX_NO_DATA);
    EXPECT(filled == 0);
    RC(imx_peek_next_tsd_evt(CAN, &csb, &csd, 5, &d), IMX_SUCCESS);
    EXPECT(d.value == 105 && d.utc_time_ms == 2005);
    RC(imx_peek_next_tsd_evt(CAN, &csb, &csd, 6, &d), IMX_NO_DATA);
    EXPECT(!imx_has_pending_data(CAN, &csb, &csd));
    RC(imx_read_next_tsd_evt(CAN, &csb, &csd, &d), IMX_SUCCESS);
    EXPECT(d.value == 100 && d.utc_time_ms == 2000);
    RC(imx_peek_next_tsd_evt(CAN, &csb, &csd, 0, &d), IMX_SUCCESS);
    EXPECT(d.value == 101);

    /* A deactivated sensor refuses writes and reads; ACK and counts work. */
    RC(imx_deactivate_sensor(CAN, &csb, &csd), IMX_SUCCESS);
    RC(imx_write_evt(CAN, &csb, &csd, u32(1), 1), IMX_INVALID_ENTRY);
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 16, 16, &filled), IMX_INVALID_ENTRY);
    EXPECT(filled == 0);
    RC(imx_read_next_tsd_evt(CAN, &csb, &csd, &d), IMX_INVALID_ENTRY);
    EXPECT(imx_get_total_sample_count(CAN, &csb, &csd) == 6);
    RC(imx_erase_all_pending(CAN, &csb, &csd), IMX_SUCCESS);
    EXPECT(imx_get_total_sample_count(CAN, &csb, &csd) == 5);
    RC(imx_activate_sensor(CAN, &csb, &csd), IMX_SUCCESS);
    RC(imx_write_evt(CAN, &csb, &csd, u32(1), 1), IMX_SUCCESS);
    RC(imx_clear_all_disk_history(0), IMX_SUCCESS);
}

/* GPS: the position comes from the firmware's functions. */
static void test_gps(void) {
    enum { EVENT, LAT, LON, ALT, SPEED, TSD, N };
    imx_control_sensor_block_t csb[N];
    control_sensor_data_t csd[N];
    tsd_evt_value_t v[4];
    uint16_t filled = 0;
    uint64_t t;
    int i;

    sensor(&csb[EVENT], &csd[EVENT], "Harsh_brake", 400, 0);
    sensor(&csb[LAT], &csd[LAT], "Latitude", 401, 0);
    sensor(&csb[LON], &csd[LON], "Longitude", 402, 0);
    sensor(&csb[ALT], &csd[ALT], "Altitude", 403, 0);
    sensor(&csb[SPEED], &csd[SPEED], "Speed", 404, 0);
    sensor(&csb[TSD], &csd[TSD], "Voltage", 405, 1000);
    RC(imx_configure_sensor(GW, &csb[EVENT], &csd[EVENT]), IMX_SUCCESS);
    /* Bad entries change nothing. */
    RC(imx_init_gps_config_for_source(GW, csb, csd, N, LAT, N, ALT, SPEED), IMX_INVALID_PARAMETER);
    RC(imx_init_gps_config_for_source(GW, csb, csd, N, LAT, LAT, ALT, SPEED), IMX_INVALID_PARAMETER);
    RC(imx_init_gps_config_for_source(GW, csb, csd, N, LAT, LON, TSD, SPEED), IMX_INVALID_PARAMETER);
    RC(imx_init_gps_config_for_source(BAD, csb, csd, N, LAT, LON, ALT, SPEED), IMX_INVALID_PARAMETER);
    RC(imx_write_evt(GW, &csb[LAT], &csd[LAT], u32(1), 1), IMX_INVALID_ENTRY); /* not configured */
    /* No GPS sensors yet: the event alone; the location has nothing to do. */
    RC(imx_write_gps_location(GW, 0), IMX_SUCCESS);
    RC(imx_write_event_with_gps(GW, &csb[EVENT], &csd[EVENT], u32(9)), IMX_SUCCESS);
    EXPECT(imx_get_new_sample_count(GW, &csb[EVENT], &csd[EVENT]) == 1);
    EXPECT(csd[EVENT].last_value.uint_32bit == 9 && csd[EVENT].valid == 1);
    RC(imx_clear_all_disk_history(0), IMX_SUCCESS);

    /* Three of four (no speed sensor). */
    RC(imx_init_gps_config_for_source(GW, csb, csd, N, LAT, LON, ALT, 0xFFFF), IMX_SUCCESS);
    RC(imx_write_event_with_gps(GW, &csb[EVENT], &csd[EVENT], u32(5)), IMX_SUCCESS);
    RC(imx_read_bulk_samples(GW, &csb[EVENT], &csd[EVENT], v, 4, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 1 && v[0].value == 5);
    t = v[0].timestamp;
    for (i = LAT; i <= ALT; i++) {
        RC(imx_read_bulk_samples(GW, &csb[i], &csd[i], v, 4, 4, &filled), IMX_SUCCESS);
        EXPECT(filled == 1 && v[0].timestamp == t);
        EXPECT(v[0].value == bits(i == LAT ? fw_lat : i == LON ? fw_lon : fw_alt));
    }
    /* All four: event and position as one. */
    RC(imx_init_gps_config_for_source(GW, csb, csd, N, LAT, LON, ALT, SPEED), IMX_SUCCESS);
    fw_lat = 48.25f;
    RC(imx_write_event_with_gps(GW, &csb[EVENT], &csd[EVENT], u32(6)), IMX_SUCCESS);
    RC(imx_read_bulk_samples(GW, &csb[SPEED], &csd[SPEED], v, 4, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 1 && v[0].value == bits(fw_speed));
    RC(imx_read_bulk_samples(GW, &csb[LAT], &csd[LAT], v, 4, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 1 && v[0].value == bits(48.25f));
    /* The location alone, at a given time and at now (0). */
    RC(imx_clear_all_disk_history(0), IMX_SUCCESS);
    RC(imx_write_gps_location(GW, 123456), IMX_SUCCESS);
    for (i = LAT; i <= SPEED; i++) {
        RC(imx_read_bulk_samples(GW, &csb[i], &csd[i], v, 4, 4, &filled), IMX_SUCCESS);
        EXPECT(filled == 1 && v[0].timestamp == 123456);
    }
    RC(imx_write_gps_location(GW, 0), IMX_SUCCESS);
    RC(imx_read_bulk_samples(GW, &csb[LON], &csd[LON], v, 4, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 1 && v[0].timestamp > 1600000000000ull && v[0].value == bits(fw_lon));
    RC(imx_write_gps_location(BLE, 0), IMX_SUCCESS); /* another source has no GPS sensors */
    RC(imx_clear_all_disk_history(0), IMX_SUCCESS);
}

/* Statistics, validation, power, maintenance. */
static void test_maintenance(void) {
    imx_control_sensor_block_t csb;
    control_sensor_data_t csd;
    mm2_stats_t st;
    mm2_sensor_state_t ss;
    tsd_evt_value_t v[4];
    uint16_t filled = 0;
    uint32_t i;

    sensor(&csb, &csd, "Rpm", 501, 0);
    RC(imx_configure_sensor(CAN, &csb, &csd), IMX_SUCCESS);
    for (i = 0; i < 5; i++) {
        RC(imx_write_evt(CAN, &csb, &csd, u32(i), 10 + i), IMX_SUCCESS);
    }
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 4, 2, &filled), IMX_SUCCESS);
    RC(imx_get_memory_stats(&st), IMX_SUCCESS);
    EXPECT(st.total_sectors > 0 && st.free_sectors < st.total_sectors);
    EXPECT(st.active_sensors >= 1 && st.total_allocations > 0 && st.chain_operations > 0);
    EXPECT(st.space_efficiency_percent > 0);
    RC(imx_get_sensor_state(CAN, &csb, &csd, &ss), IMX_SUCCESS);
    EXPECT(ss.sensor_id == 501 && ss.active == 1 && ss.total_records == 5);
    EXPECT(ss.pending_counts[CAN] == 2 && ss.pending_counts[GW] == 0 && ss.last_sample_time == 10);
    RC(imx_validate_sector_chains(CAN, NULL, NULL), IMX_SUCCESS);
    RC(imx_validate_sector_chains(CAN, &csb, &csd), IMX_SUCCESS);
    EXPECT(imx_force_garbage_collection(CAN, &csb, &csd) == 0);
    RC(process_memory_manager(12345), IMX_SUCCESS);
    RC(imx_set_utc_available(1), IMX_SUCCESS);
    EXPECT(imx_memory_manager_ready() == 1);

    /* Power event: writes refused, reads/ACK/NACK work, abort resumes. */
    imx_power_event_detected();
    EXPECT(imx_memory_manager_ready() == 0);
    RC(imx_write_evt(CAN, &csb, &csd, u32(1), 1), IMX_ERROR);
    RC(imx_revert_all_pending(CAN, &csb, &csd), IMX_SUCCESS);
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 4, 4, &filled), IMX_SUCCESS);
    EXPECT(filled == 4 && v[0].value == 0);
    RC(handle_power_abort_recovery(), IMX_SUCCESS);
    RC(handle_power_abort_recovery(), IMX_SUCCESS); /* nothing to recover */
    RC(imx_write_evt(CAN, &csb, &csd, u32(5), 15), IMX_SUCCESS);
    /* Per-sensor shutdown, as the firmware calls it at power-down. */
    RC(imx_memory_manager_shutdown(CAN, &csb, &csd, 1000), IMX_SUCCESS);
    RC(imx_memory_manager_shutdown(CAN, &csb, &csd, 1000), IMX_SUCCESS);
    RC(imx_write_evt(CAN, &csb, &csd, u32(6), 16), IMX_ERROR);
    RC(handle_power_abort_recovery(), IMX_SUCCESS);
    EXPECT(imx_get_total_sample_count(CAN, &csb, &csd) == 6);
    RC(imx_clear_all_disk_history(1), IMX_SUCCESS);
    EXPECT(imx_get_total_sample_count(CAN, &csb, &csd) == 0);
}

/* The v1 names: entries of the csb/csd arrays, the gateway source. */
static void test_v1(void) {
    imx_control_sensor_block_t csb[3];
    control_sensor_data_t csd[3];
    uint32_t value = 99;

    sensor(&csb[0], &csd[0], "V1_temp", 601, 1000);
    sensor(&csb[1], &csd[1], "V1_door", 602, 0);
    sensor(&csb[2], &csd[2], "V1_alarm", 603, 0);
    RC(imx_sat_init(), IMX_SUCCESS); /* already running: success */
    RC(imx_configure_sensor(IMX_UPLOAD_GATEWAY, &csb[0], &csd[0]), IMX_SUCCESS);
    RC(imx_configure_sensor(IMX_UPLOAD_GATEWAY, &csb[1], &csd[1]), IMX_SUCCESS);
    RC(imx_configure_sensor(IMX_UPLOAD_GATEWAY, &csb[2], &csd[2]), IMX_SUCCESS);
    write_tsd_evt(csb, csd, 0, 21, false);
    write_tsd_evt(csb, csd, 1, 1, false);
    write_tsd_evt_time(csb, csd, 1, 0, 1700000000u);
    write_tsd_evt(csb, csd, 2, 7, true);
    write_tsd_evt(NULL, csd, 0, 1, false); /* ignored */
    EXPECT(imx_get_new_sample_count(IMX_UPLOAD_GATEWAY, &csb[0], &csd[0]) == 1);
    EXPECT(imx_get_new_sample_count(IMX_UPLOAD_GATEWAY, &csb[1], &csd[1]) == 2);
    EXPECT(imx_get_new_sample_count(IMX_UPLOAD_GATEWAY, &csb[2], &csd[2]) == 1);
    read_tsd_evt(csb, csd, 0, &value);
    EXPECT(value == 21);
    read_tsd_evt(csb, csd, 1, &value);
    EXPECT(value == 1);
    revert_tsd_evt_pending_data(csb, csd, 3);
    read_tsd_evt(csb, csd, 1, &value);
    EXPECT(value == 1);
    read_tsd_evt(csb, csd, 1, &value);
    EXPECT(value == 0);
    read_tsd_evt(csb, csd, 1, &value);
    EXPECT(value == 0); /* nothing left */
    erase_tsd_evt(csb, csd, 1);
    EXPECT(imx_get_total_sample_count(IMX_UPLOAD_GATEWAY, &csb[1], &csd[1]) == 0);
    read_tsd_evt(csb, csd, 0, &value);
    read_tsd_evt(csb, csd, 2, &value);
    EXPECT(value == 7);
    erase_tsd_evt_pending_data(csb, csd, 3);
    EXPECT(imx_get_total_sample_count(IMX_UPLOAD_GATEWAY, &csb[0], &csd[0]) == 0);
    EXPECT(imx_get_total_sample_count(IMX_UPLOAD_GATEWAY, &csb[2], &csd[2]) == 0);
}

/* Overflow and the UTC gate of the MCU profiles, through the core config. */
static void test_profiles(void) {
    imx_control_sensor_block_t csb;
    control_sensor_data_t csd;
    mm2_core_config_t cfg;
    imx_result_t rc = IMX_SUCCESS;
    uint32_t i;

    memset(&cfg, 0, sizeof cfg);
    cfg.platform = "stm32";
    cfg.dir = "";
    cfg.overflow = MM2_CORE_OVERFLOW_REJECT_NEW;
    RC(mm2_api_result(mm2_core_init(&cfg)), IMX_SUCCESS);
    sensor(&csb, &csd, "Mcu", 701, 0);
    RC(imx_configure_sensor(GW, &csb, &csd), IMX_SUCCESS);
    RC(imx_write_evt(GW, &csb, &csd, u32(1), 1), IMX_ERROR); /* UTC not known yet */
    EXPECT(imx_memory_manager_ready() == 0);
    RC(imx_set_utc_available(1), IMX_SUCCESS);
    for (i = 0; i < 100000 && rc == IMX_SUCCESS; i++) {
        rc = imx_write_evt(GW, &csb, &csd, u32(i), 1000 + i);
    }
    EXPECT(rc == IMX_OUT_OF_MEMORY && i > 10);
    RC(mm2_api_result(mm2_core_close(0)), IMX_SUCCESS);
}

/* Disk backend: records survive a restart; old references are refused. */
static void test_disk_restart(void) {
    imx_control_sensor_block_t csb;
    control_sensor_data_t csd, stale;
    tsd_evt_value_t v[8];
    uint16_t filled = 0;
    uint32_t i;

    mm2_core_config_t cfg;

    /* The Go runtime reads the environment once, at start-up: the directory
     * goes through the core configuration (env mode tests MM2_DIR). */
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = "store";
    RC(mm2_api_result(mm2_core_init(&cfg)), IMX_SUCCESS);
    sensor(&csb, &csd, "Fuel", 801, 0);
    RC(imx_configure_sensor(CAN, &csb, &csd), IMX_SUCCESS);
    for (i = 0; i < 5; i++) {
        RC(imx_write_evt(CAN, &csb, &csd, u32(i), 5000 + i), IMX_SUCCESS);
    }
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 8, 2, &filled), IMX_SUCCESS);
    RC(imx_erase_all_pending(CAN, &csb, &csd), IMX_SUCCESS);
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 8, 1, &filled), IMX_SUCCESS); /* pending at close */
    RC(imx_memory_manager_shutdown(CAN, &csb, &csd, 0), IMX_SUCCESS);
    RC(mm2_api_result(mm2_core_close(0)), IMX_SUCCESS);
    stale = csd;
    RC(imx_write_evt(CAN, &csb, &stale, u32(1), 1), IMX_INIT_ERROR);
    RC(mm2_api_result(mm2_core_init(&cfg)), IMX_SUCCESS);
    RC(imx_write_evt(CAN, &csb, &stale, u32(1), 1), IMX_INVALID_ENTRY);
    memset(&csd.mmcb, 0, sizeof csd.mmcb);
    RC(imx_configure_sensor(CAN, &csb, &csd), IMX_SUCCESS);
    RC(imx_activate_sensor(CAN, &csb, &csd), IMX_SUCCESS);
    RC(imx_recover_sensor_disk_data(CAN, &csb, &csd), IMX_SUCCESS);
    EXPECT(imx_get_new_sample_count(CAN, &csb, &csd) == 3);
    RC(imx_read_bulk_samples(CAN, &csb, &csd, v, 8, 8, &filled), IMX_SUCCESS);
    EXPECT(filled == 3 && v[0].value == 2 && v[0].timestamp == 5002 && v[2].value == 4);
    RC(imx_erase_all_pending(CAN, &csb, &csd), IMX_SUCCESS);
    RC(mm2_api_result(mm2_core_close(0)), IMX_SUCCESS);
}

static int env_mode(char **argv) {
    static const struct {
        const char *name;
        imx_result_t value;
    } names[] = {{"IMX_SUCCESS", IMX_SUCCESS},
                 {"IMX_INVALID_PARAMETER", IMX_INVALID_PARAMETER},
                 {"IMX_FILE_ERROR", IMX_FILE_ERROR}};
    mm2_core_stats_t st;
    size_t i;
    int found = 0;
    imx_result_t want = IMX_ERROR;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(names[i].name, argv[2]) == 0) {
            want = names[i].value;
            found = 1;
        }
    }
    EXPECT(found);
    RC(imx_memory_manager_init(0), want);
    if (want == IMX_SUCCESS) {
        EXPECT(mm2_core_stats(&st) == MM2_CORE_OK);
        EXPECT(strcmp(st.platform, argv[3]) == 0 && strcmp(st.backend, argv[4]) == 0);
        RC(mm2_api_result(mm2_core_close(0)), IMX_SUCCESS);
    }
    return finish("api_test env");
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "env") == 0) {
        return env_mode(argv);
    }
    test_layouts();
    test_not_initialized();
    RC(imx_memory_manager_init(0), IMX_SUCCESS);
    RC(imx_memory_manager_init(0), IMX_ERROR); /* already running */
    test_bad_input();
    test_names_do_not_collide();
    test_state_only_in_mmcb();
    test_upload_behaviour();
    test_gps();
    test_maintenance();
    test_v1();
    RC(mm2_api_result(mm2_core_close(0)), IMX_SUCCESS);
    RC(mm2_api_result(mm2_core_close(0)), IMX_INIT_ERROR);
    test_profiles();
    test_disk_restart();
    return finish("api_test");
}
