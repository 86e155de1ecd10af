/*
 * core_test.c - the neutral core ABI alone (mm2_core.h, no firmware
 * header): every bad input of every core call, the references, sequence
 * numbers and the NACK redelivery they make visible.
 */
#include <stdio.h>
#include <string.h>

#include "mm2_core.h"

static int checks, failures;

#define RC(call, want)                                                             \
    do {                                                                           \
        mm2_core_rc_t rc_ = (call);                                                \
        checks++;                                                                  \
        if (rc_ != (want)) {                                                       \
            failures++;                                                            \
            fprintf(stderr, "%s:%d: FAIL: %s = %s, want %s\n", __FILE__, __LINE__, \
                    #call, mm2_core_rc_string(rc_), #want);                        \
        }                                                                          \
    } while (0)

#define EXPECT(cond)                                                         \
    do {                                                                     \
        checks++;                                                            \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)

int main(void) {
    mm2_core_config_t cfg;
    mm2_core_sample_t s[4];
    mm2_core_counts_t c;
    mm2_core_stats_t st;
    uint64_t seq[4], n64 = 0;
    uint32_t filled = 7, count = 7;
    mm2_ref_t ev = 0, tsd = 0, other = 0;

    /* Not initialised. */
    RC(mm2_core_configure(0, 1, 0, &ev), MM2_CORE_NOT_INITIALIZED);
    RC(mm2_core_read(1, 0, 1, s, seq, 4, &filled), MM2_CORE_NOT_INITIALIZED);
    EXPECT(filled == 0);
    RC(mm2_core_stats(&st), MM2_CORE_NOT_INITIALIZED);
    RC(mm2_core_close(0), MM2_CORE_NOT_INITIALIZED);
    EXPECT(mm2_core_ready() == 0);

    /* Bad configurations change nothing. */
    memset(&cfg, 0, sizeof cfg);
    cfg.platform = "avr";
    RC(mm2_core_init(&cfg), MM2_CORE_INVALID_PARAMETER);
    cfg.platform = "linux";
    cfg.overflow = 9;
    RC(mm2_core_init(&cfg), MM2_CORE_INVALID_PARAMETER);
    cfg.overflow = MM2_CORE_OVERFLOW_DROP_OLDEST;
    cfg.sync_policy = MM2_CORE_SYNC_INTERVAL; /* interval 0 */
    RC(mm2_core_init(&cfg), MM2_CORE_INVALID_PARAMETER);
    cfg.sync_policy = 7;
    RC(mm2_core_init(&cfg), MM2_CORE_INVALID_PARAMETER);
    cfg.sync_policy = MM2_CORE_SYNC_ON_POWER_DOWN;
    cfg.dir = "";
    RC(mm2_core_init(&cfg), MM2_CORE_OK);
    RC(mm2_core_init(&cfg), MM2_CORE_INVALID_STATE);

    /* Configure. */
    RC(mm2_core_configure(0, 1, 0, NULL), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_configure(MM2_CORE_MAX_SOURCES, 1, 0, &ev), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_configure(3, 1, 0, &ev), MM2_CORE_OK);
    RC(mm2_core_configure(3, 2, 1000, &tsd), MM2_CORE_OK);
    RC(mm2_core_configure(3, 2, 2000, &other), MM2_CORE_KIND_MISMATCH);
    EXPECT(ev != 0 && tsd != 0 && ev != tsd && other == 0);
    RC(mm2_core_configure(3, 1, 0, &other), MM2_CORE_OK);
    EXPECT(other == ev); /* the same sensor, the same reference */

    /* References: zero, foreign source or id, out of range. */
    RC(mm2_core_write_evt(0, 3, 1, 5, 10), MM2_CORE_INVALID_ENTRY);
    RC(mm2_core_write_evt(ev, 2, 1, 5, 10), MM2_CORE_INVALID_ENTRY);
    RC(mm2_core_write_evt(ev, 3, 9, 5, 10), MM2_CORE_INVALID_ENTRY);
    RC(mm2_core_write_evt(ev + 1000, 3, 1, 5, 10), MM2_CORE_INVALID_ENTRY);
    RC(mm2_core_write_evt(ev, MM2_CORE_MAX_SOURCES, 1, 5, 10), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_write_evt(ev, 3, 1, 5, (uint64_t)1 << 63), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_write_tsd(ev, 3, 1, 5), MM2_CORE_KIND_MISMATCH);
    RC(mm2_core_write_evt(tsd, 3, 2, 5, 10), MM2_CORE_KIND_MISMATCH);
    RC(mm2_core_sensor_info(ev, 3, 1, 0, &c), MM2_CORE_OK);
    EXPECT(c.total_count == 0 && c.active == 1 && c.sample_rate == 0);

    /* Reads: NULLs, n = 0, nothing there. */
    RC(mm2_core_write_evt(ev, 3, 1, 100, 10), MM2_CORE_OK);
    RC(mm2_core_write_evt(ev, 3, 1, 101, 11), MM2_CORE_OK);
    RC(mm2_core_write_evt(ev, 3, 1, 102, 12), MM2_CORE_OK);
    RC(mm2_core_read(ev, 3, 1, NULL, seq, 4, &filled), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_read(ev, 3, 1, s, seq, 4, NULL), MM2_CORE_INVALID_PARAMETER);
    filled = 7;
    RC(mm2_core_read(ev, 3, 1, s, seq, 0, &filled), MM2_CORE_NO_DATA);
    EXPECT(filled == 0);
    RC(mm2_core_peek(ev, 3, 1, 3, s, seq, 4, &filled), MM2_CORE_NO_DATA);
    RC(mm2_core_peek(ev, 3, 1, 1, s, NULL, 4, &filled), MM2_CORE_OK);
    EXPECT(filled == 2 && s[0].value == 101 && s[1].timestamp == 12);
    RC(mm2_core_read(ev, 3, 1, s, seq, 2, &filled), MM2_CORE_OK);
    EXPECT(filled == 2 && seq[0] == 1 && seq[1] == 2 && s[1].value == 101);
    /* NACK: the same records, the same sequence numbers. */
    RC(mm2_core_nack(ev, 3, 1, &count), MM2_CORE_OK);
    EXPECT(count == 2);
    RC(mm2_core_nack(ev, 3, 1, &count), MM2_CORE_NO_DATA);
    EXPECT(count == 0);
    RC(mm2_core_read(ev, 3, 1, s, seq, 4, &filled), MM2_CORE_OK);
    EXPECT(filled == 3 && seq[0] == 1 && seq[2] == 3 && s[2].value == 102);
    RC(mm2_core_ack(ev, 3, 1, &count), MM2_CORE_OK);
    EXPECT(count == 3);
    RC(mm2_core_ack(ev, 3, 1, NULL), MM2_CORE_NO_DATA);
    RC(mm2_core_read(ev, 3, 1, s, seq, 4, &filled), MM2_CORE_NO_DATA);

    /* Deactivated: writes and reads refused, counts work. */
    RC(mm2_core_set_active(ev, 3, 1, 0), MM2_CORE_OK);
    RC(mm2_core_write_evt(ev, 3, 1, 1, 1), MM2_CORE_INACTIVE);
    RC(mm2_core_read(ev, 3, 1, s, seq, 4, &filled), MM2_CORE_INACTIVE);
    RC(mm2_core_sensor_info(ev, 3, 1, 1, &c), MM2_CORE_OK);
    EXPECT(c.active == 0 && c.written_sequence == 3 && c.acked_sequence == 3);
    RC(mm2_core_set_active(ev, 3, 1, 1), MM2_CORE_OK);

    /* GPS configuration: bad mask, repeated or unknown sensors, TSD sensors. */
    RC(mm2_core_set_gps(3, 0x10, 1, 2, 3, 4), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_set_gps(MM2_CORE_MAX_SOURCES, 1, 1, 0, 0, 0), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_set_gps(3, 0x3, 1, 1, 0, 0), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_set_gps(3, 0x1, 77, 0, 0, 0), MM2_CORE_INVALID_ENTRY);
    RC(mm2_core_set_gps(3, 0x1, 2, 0, 0, 0), MM2_CORE_KIND_MISMATCH);
    RC(mm2_core_write_gps(3, 0, 1, 2, 3, 4), MM2_CORE_NO_DATA);
    RC(mm2_core_set_gps(3, 0x1, 1, 0, 0, 0), MM2_CORE_OK);
    RC(mm2_core_write_gps(3, 500, 1, 2, 3, 4), MM2_CORE_OK);
    RC(mm2_core_write_gps(3, (uint64_t)1 << 63, 1, 2, 3, 4), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_set_gps(3, 0, 0, 0, 0, 0), MM2_CORE_OK);
    RC(mm2_core_write_gps(3, 0, 1, 2, 3, 4), MM2_CORE_NO_DATA);

    /* Manager-wide calls. */
    RC(mm2_core_stats(NULL), MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_stats(&st), MM2_CORE_OK);
    EXPECT(strcmp(st.platform, "linux") == 0 && strcmp(st.backend, "mock") == 0);
    EXPECT(st.configured_sensors == 2 && st.new_records == 1);
    RC(mm2_core_check(), MM2_CORE_OK);
    RC(mm2_core_tick(), MM2_CORE_OK);
    RC(mm2_core_power_abort(), MM2_CORE_INVALID_STATE);
    RC(mm2_core_power_down(0), MM2_CORE_OK);
    RC(mm2_core_write_tsd(tsd, 3, 2, 1), MM2_CORE_POWERING_DOWN);
    RC(mm2_core_power_abort(), MM2_CORE_OK);
    RC(mm2_core_set_utc_available(0), MM2_CORE_OK);
    RC(mm2_core_discard_all(NULL), MM2_CORE_OK);
    RC(mm2_core_write_tsd(tsd, 3, 2, 1), MM2_CORE_OK);
    RC(mm2_core_discard_all(&n64), MM2_CORE_OK);
    EXPECT(n64 == 1);
    RC(mm2_core_close(0), MM2_CORE_OK);
    RC(mm2_core_write_tsd(tsd, 3, 2, 1), MM2_CORE_NOT_INITIALIZED);
    RC(mm2_core_init(NULL), MM2_CORE_OK);
    RC(mm2_core_write_tsd(tsd, 3, 2, 1), MM2_CORE_INVALID_ENTRY); /* stale reference */
    RC(mm2_core_close(0), MM2_CORE_OK);
    EXPECT(strcmp(mm2_core_rc_string(MM2_CORE_NO_DATA), "MM2_CORE_NO_DATA: nothing to read, ACK or NACK") == 0);
    EXPECT(strcmp(mm2_core_rc_string(-5), "unknown mm2_core_rc_t") == 0);
    printf("core_test: %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
