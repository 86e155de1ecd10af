/*
 * core_test.c - the neutral core ABI alone (mm2_core.h, no firmware
 * header): every bad input of every core call, the references, sequence
 * numbers and the NACK redelivery they make visible; the batch write.
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

#define T0 1700000000000ULL /* a UTC time in ms */
#define FULL 512              /* more samples than the small pool of batch_full holds */

static mm2_core_write_t w[FULL];

static void put(mm2_core_write_t *x, mm2_ref_t ref, uint32_t source, uint32_t id, uint32_t value,
                uint64_t utc_ms) {
    x->ref = ref;
    x->source = source;
    x->id = id;
    x->value = value;
    x->utc_ms = utc_ms;
}

/* written is a sensor's newest sequence number. */
static uint64_t written(mm2_ref_t ref, uint32_t source, uint32_t id) {
    mm2_core_counts_t c;
    memset(&c, 0, sizeof c);
    RC(mm2_core_sensor_info(ref, source, id, 1, &c), MM2_CORE_OK);
    return c.written_sequence;
}

/* batch_matches_single_writes: a batch mixing two event sensors and a TSD
 * sensor stores what single writes store (values, times, sequence numbers);
 * a TSD sample at its time. Set k of the sensors is on source 1 + k: set 0
 * is written by one batch, set 1 one call per sample. */
static void batch_matches_single_writes(void) {
    static const uint32_t ids[3] = {10, 11, 12}; /* EVT, EVT, TSD of 1 s */
    mm2_ref_t ref[2][3];
    mm2_core_sample_t a[64], b[64];
    uint64_t sa[64], sb[64];
    uint32_t stored = 7, n = 0, k, j, fa, fb, i, tsd = 0;

    for (k = 0; k < 2; k++) {
        for (j = 0; j < 3; j++) {
            RC(mm2_core_configure(1 + k, ids[j], j == 2 ? 1000 : 0, &ref[k][j]), MM2_CORE_OK);
        }
    }
    for (i = 0; i < 20; i++) {
        put(&w[n++], ref[0][0], 1, 10, 100 + i, T0 + i * 37);
        put(&w[n++], ref[0][1], 1, 11, 200 + i, T0 + (i % 5) * 1000); /* times out of order */
        if (i % 2 == 0) {
            put(&w[n++], ref[0][2], 1, 12, 300 + i, T0 + tsd++ * 1000); /* one sample per period */
        }
    }
    RC(mm2_core_write_batch(w, n, &stored), MM2_CORE_OK);
    EXPECT(stored == n);
    for (i = 0; i < n; i++) {
        if (w[i].id == 12) {
            RC(mm2_core_write_tsd(ref[1][2], 2, 12, w[i].value), MM2_CORE_OK);
        } else {
            RC(mm2_core_write_evt(ref[1][w[i].id - 10], 2, w[i].id, w[i].value, w[i].utc_ms), MM2_CORE_OK);
        }
    }
    for (j = 0; j < 3; j++) {
        RC(mm2_core_read(ref[0][j], 1, ids[j], a, sa, 64, &fa), MM2_CORE_OK);
        RC(mm2_core_read(ref[1][j], 2, ids[j], b, sb, 64, &fb), MM2_CORE_OK);
        EXPECT(fa == fb && fa == (j == 2 ? tsd : 20));
        for (i = 0; i < fa && i < fb; i++) {
            EXPECT(a[i].value == b[i].value && sa[i] == sb[i] && sa[i] == i + 1);
            /* Single TSD writes take the system clock; the batch's are at their times. */
            EXPECT(j == 2 ? a[i].timestamp == T0 + i * 1000 : a[i].timestamp == b[i].timestamp);
        }
        RC(mm2_core_ack(ref[0][j], 1, ids[j], NULL), MM2_CORE_OK);
        RC(mm2_core_ack(ref[1][j], 2, ids[j], NULL), MM2_CORE_OK);
    }
}

/* batch_refused_whole: one bad sample, wherever it is, refuses the whole
 * batch and nothing is written; so do bad arguments and a power-down. */
static void batch_refused_whole(void) {
    mm2_core_stats_t st;
    mm2_ref_t e1 = 0, e2 = 0, other = 0;
    uint64_t before1, before2;
    uint32_t stored, i;
    const uint32_t n = 5;

    RC(mm2_core_configure(4, 1, 0, &e1), MM2_CORE_OK);
    RC(mm2_core_configure(4, 2, 1000, &e2), MM2_CORE_OK);
    RC(mm2_core_configure(5, 1, 0, &other), MM2_CORE_OK);
    before1 = written(e1, 4, 1);
    before2 = written(e2, 4, 2);
#define BATCH_REFUSED(change, want)                         \
    do {                                                    \
        for (i = 0; i < n; i++) {                           \
            put(&w[i], i % 2 ? e2 : e1, 4, 1 + i % 2, i, T0 + i * 1000); \
        }                                                   \
        change;                                             \
        stored = 7;                                         \
        RC(mm2_core_write_batch(w, n, &stored), want);      \
        EXPECT(stored == 0);                                \
    } while (0)
    BATCH_REFUSED(w[2].ref = other, MM2_CORE_INVALID_ENTRY);   /* another sensor's reference */
    BATCH_REFUSED(w[2].ref = 0, MM2_CORE_INVALID_ENTRY);       /* never configured */
    BATCH_REFUSED(w[3].id = 9, MM2_CORE_INVALID_ENTRY);        /* reference of another id */
    BATCH_REFUSED(w[4].ref += 1000, MM2_CORE_INVALID_ENTRY);   /* out of range */
    BATCH_REFUSED(w[2].source = MM2_CORE_MAX_SOURCES, MM2_CORE_INVALID_PARAMETER);
    BATCH_REFUSED(w[4].utc_ms = (uint64_t)1 << 63, MM2_CORE_INVALID_PARAMETER);
    RC(mm2_core_set_active(e2, 4, 2, 0), MM2_CORE_OK);
    BATCH_REFUSED((void)0, MM2_CORE_INACTIVE);
    RC(mm2_core_set_active(e2, 4, 2, 1), MM2_CORE_OK);
    RC(mm2_core_power_down(0), MM2_CORE_OK);
    BATCH_REFUSED((void)0, MM2_CORE_POWERING_DOWN);
    RC(mm2_core_power_abort(), MM2_CORE_OK);
    BATCH_REFUSED(w[0].ref = other, MM2_CORE_INVALID_ENTRY);   /* the first */
#undef BATCH_REFUSED
    EXPECT(written(e1, 4, 1) == before1 && written(e2, 4, 2) == before2);
    RC(mm2_core_stats(&st), MM2_CORE_OK);
    EXPECT(st.new_records == 0 && st.stored_records == 0);

    /* NULLs and the empty batch. */
    RC(mm2_core_write_batch(w, n, NULL), MM2_CORE_INVALID_PARAMETER);
    stored = 7;
    RC(mm2_core_write_batch(NULL, n, &stored), MM2_CORE_INVALID_PARAMETER);
    EXPECT(stored == 0);
    stored = 7;
    RC(mm2_core_write_batch(NULL, 0, &stored), MM2_CORE_OK);
    EXPECT(stored == 0);
    RC(mm2_core_power_down(0), MM2_CORE_OK);
    RC(mm2_core_write_batch(NULL, 0, &stored), MM2_CORE_POWERING_DOWN);
    RC(mm2_core_power_abort(), MM2_CORE_OK);
    EXPECT(written(e1, 4, 1) == before1 && written(e2, 4, 2) == before2);

    /* And the same batch, unchanged, is stored whole. */
    for (i = 0; i < n; i++) {
        put(&w[i], i % 2 ? e2 : e1, 4, 1 + i % 2, i, T0 + i * 1000);
    }
    RC(mm2_core_write_batch(w, n, &stored), MM2_CORE_OK);
    EXPECT(stored == n && written(e1, 4, 1) == before1 + 3 && written(e2, 4, 2) == before2 + 2);
    RC(mm2_core_discard_all(NULL), MM2_CORE_OK);
}

/* gps_batch: with fewer than four GPS sensors the event and the position
 * are written as one batch at one time; a TSD sensor's event is refused
 * and writes nothing. */
static void gps_batch(void) {
    mm2_core_sample_t s[2];
    uint32_t filled = 0;
    mm2_ref_t ev = 0, lat = 0, ts = 0;

    RC(mm2_core_configure(4, 20, 0, &ev), MM2_CORE_OK);
    RC(mm2_core_configure(4, 21, 0, &lat), MM2_CORE_OK);
    RC(mm2_core_configure(4, 22, 1000, &ts), MM2_CORE_OK);
    RC(mm2_core_set_gps(4, 0x1, 21, 0, 0, 0), MM2_CORE_OK);
    RC(mm2_core_write_evt_gps(ts, 4, 22, 1, 1.5f, 2, 3, 4), MM2_CORE_KIND_MISMATCH);
    EXPECT(written(ts, 4, 22) == 0 && written(lat, 4, 21) == 0);
    RC(mm2_core_write_evt_gps(ev, 4, 20, 9, 1.5f, 2, 3, 4), MM2_CORE_OK);
    RC(mm2_core_read(ev, 4, 20, s, NULL, 2, &filled), MM2_CORE_OK);
    RC(mm2_core_read(lat, 4, 21, &s[1], NULL, 1, &filled), MM2_CORE_OK);
    EXPECT(filled == 1 && s[0].value == 9 && s[1].value == 0x3FC00000u /* 1.5f */ &&
           s[0].timestamp == s[1].timestamp);
    RC(mm2_core_power_down(0), MM2_CORE_OK);
    RC(mm2_core_write_evt_gps(ts, 4, 22, 1, 1.5f, 2, 3, 4), MM2_CORE_POWERING_DOWN);
    RC(mm2_core_write_gps(4, 0, 1.5f, 2, 3, 4), MM2_CORE_POWERING_DOWN);
    RC(mm2_core_power_abort(), MM2_CORE_OK);
    RC(mm2_core_set_gps(4, 0, 0, 0, 0, 0), MM2_CORE_OK);
    RC(mm2_core_discard_all(NULL), MM2_CORE_OK);
}

/* batch_utc: on wiced a batch waits for UTC like every write. */
static void batch_utc(void) {
    mm2_core_config_t cfg;
    mm2_ref_t ev = 0;
    uint32_t stored = 7;

    memset(&cfg, 0, sizeof cfg);
    cfg.platform = "wiced";
    RC(mm2_core_init(&cfg), MM2_CORE_OK);
    RC(mm2_core_configure(1, 1, 0, &ev), MM2_CORE_OK);
    put(&w[0], ev, 1, 1, 5, T0);
    RC(mm2_core_write_batch(w, 1, &stored), MM2_CORE_UTC_NOT_AVAILABLE);
    EXPECT(stored == 0 && written(ev, 1, 1) == 0);
    RC(mm2_core_set_utc_available(1), MM2_CORE_OK);
    RC(mm2_core_write_batch(w, 1, &stored), MM2_CORE_OK);
    EXPECT(stored == 1 && written(ev, 1, 1) == 1);
    RC(mm2_core_close(0), MM2_CORE_OK);
}

/* batch_full: a batch into a pool that fills part-way (reject policy)
 * stores exactly *stored samples, in order, numbered; single writes find
 * the same room. */
static void batch_full(void) {
    mm2_core_config_t cfg;
    mm2_core_sample_t s[FULL];
    uint64_t seq[FULL];
    mm2_ref_t e1 = 0, e2 = 0;
    uint32_t stored = 0, f1 = 0, f2 = 0, i, singles = 0;

    memset(&cfg, 0, sizeof cfg);
    cfg.dir = "";
    cfg.pool_size = 1024;
    cfg.overflow = MM2_CORE_OVERFLOW_REJECT_NEW;
    RC(mm2_core_init(&cfg), MM2_CORE_OK);
    RC(mm2_core_configure(6, 1, 0, &e1), MM2_CORE_OK);
    RC(mm2_core_configure(6, 2, 0, &e2), MM2_CORE_OK);
    for (i = 0; i < FULL; i++) {
        put(&w[i], i % 2 ? e2 : e1, 6, 1 + i % 2, i, T0 + i);
    }
    RC(mm2_core_write_batch(w, FULL, &stored), MM2_CORE_OUT_OF_MEMORY);
    EXPECT(stored > 2 && stored < FULL);
    EXPECT(written(e1, 6, 1) + written(e2, 6, 2) == stored);
    RC(mm2_core_read(e1, 6, 1, s, seq, FULL, &f1), MM2_CORE_OK);
    for (i = 0; i < f1; i++) {
        EXPECT(s[i].value == 2 * i && s[i].timestamp == T0 + 2 * i && seq[i] == i + 1);
    }
    RC(mm2_core_read(e2, 6, 2, s, seq, FULL, &f2), MM2_CORE_OK);
    for (i = 0; i < f2; i++) {
        EXPECT(s[i].value == 2 * i + 1 && seq[i] == i + 1);
    }
    EXPECT(f1 + f2 == stored);
    RC(mm2_core_ack(e1, 6, 1, NULL), MM2_CORE_OK);
    RC(mm2_core_ack(e2, 6, 2, NULL), MM2_CORE_OK);
    RC(mm2_core_check(), MM2_CORE_OK);
    /* The same samples one call each: refused at the same one. */
    for (i = 0; i < FULL; i++) {
        mm2_core_rc_t rc = mm2_core_write_evt(w[i].ref, w[i].source, w[i].id, w[i].value, w[i].utc_ms);
        if (rc != MM2_CORE_OK) {
            RC(rc, MM2_CORE_OUT_OF_MEMORY);
            break;
        }
        singles++;
    }
    EXPECT(singles == stored);
    printf("batch_full: %u samples stored before the pool was full\n", stored);
    RC(mm2_core_close(0), MM2_CORE_OK);
}

/* batch_disk: under SYNC_ALWAYS a batch is on disk when it returns; the
 * next init finds it, and a reference of before is stale for a batch. */
static void batch_disk(void) {
    mm2_core_config_t cfg;
    mm2_core_sample_t s[64];
    uint64_t seq[64];
    mm2_ref_t ev = 0, ts = 0, old;
    uint32_t stored = 0, f = 0, i;

    memset(&cfg, 0, sizeof cfg);
    cfg.dir = "store";
    cfg.sync_policy = MM2_CORE_SYNC_ALWAYS;
    RC(mm2_core_init(&cfg), MM2_CORE_OK);
    RC(mm2_core_configure(7, 1, 0, &ev), MM2_CORE_OK);
    RC(mm2_core_configure(7, 2, 500, &ts), MM2_CORE_OK);
    for (i = 0; i < 40; i++) {
        put(&w[i], i % 2 ? ts : ev, 7, 1 + i % 2, 1000 + i, T0 + (i / 2) * 500);
    }
    RC(mm2_core_write_batch(w, 40, &stored), MM2_CORE_OK);
    EXPECT(stored == 40);
    RC(mm2_core_close(0), MM2_CORE_OK);
    old = ev;
    RC(mm2_core_init(&cfg), MM2_CORE_OK);
    RC(mm2_core_write_batch(w, 1, &stored), MM2_CORE_INVALID_ENTRY); /* stale */
    RC(mm2_core_configure(7, 1, 0, &ev), MM2_CORE_OK);
    RC(mm2_core_configure(7, 2, 500, &ts), MM2_CORE_OK);
    EXPECT(ev != old);
    RC(mm2_core_read(ev, 7, 1, s, seq, 64, &f), MM2_CORE_OK);
    EXPECT(f == 20);
    for (i = 0; i < f; i++) {
        EXPECT(s[i].value == 1000 + 2 * i && s[i].timestamp == T0 + i * 500 && seq[i] == i + 1);
    }
    RC(mm2_core_read(ts, 7, 2, s, seq, 64, &f), MM2_CORE_OK);
    EXPECT(f == 20);
    for (i = 0; i < f; i++) {
        EXPECT(s[i].value == 1001 + 2 * i && s[i].timestamp == T0 + i * 500 && seq[i] == i + 1);
    }
    RC(mm2_core_check(), MM2_CORE_OK);
    RC(mm2_core_close(0), MM2_CORE_OK);
}

static void batch(void) {
    uint32_t stored = 7;
    RC(mm2_core_write_batch(w, 1, &stored), MM2_CORE_NOT_INITIALIZED);
    EXPECT(stored == 0);
    RC(mm2_core_init(NULL), MM2_CORE_OK);
    batch_matches_single_writes();
    batch_refused_whole();
    gps_batch();
    RC(mm2_core_close(0), MM2_CORE_OK);
    batch_full();
    batch_disk();
    batch_utc();
}

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
    batch();
    printf("core_test: %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
