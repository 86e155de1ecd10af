/*
 * concurrent_test.c - 4 writer threads and 1 reader/acker thread move
 * RECORDS records through the legacy layer and libmm2.a; every record must
 * arrive exactly once, in order, checked by value (each sensor's values
 * are 0, 1, 2, ...).
 *
 *   concurrent_test [RECORDS]     default 1,000,000
 *
 * Each writer owns one sensor (two EVT, two TSD) and writes the values
 * 0..RECORDS/4-1. The pool rejects writes when full
 * (MM2_CORE_OVERFLOW_REJECT_NEW), and a writer retries after
 * IMX_OUT_OF_MEMORY, so nothing may be dropped.
 * The reader round-robins the sensors with bulk reads; every 8th batch it
 * NACKs instead of ACKing and must then get the same records again.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define WRITERS 4
#define BATCH 256

static const uint32_t rate[WRITERS] = {0, 0, 1, 3600000};
static imx_control_sensor_block_t csb[WRITERS];
static control_sensor_data_t csd[WRITERS];
static uint32_t per_writer;
static volatile int writer_failed;

static void *writer(void *arg) {
    int w = (int)(size_t)arg;
    uint32_t i;
    imx_data_32_t v;
    imx_result_t rc;

    for (i = 0; i < per_writer; i++) {
        v.uint_32bit = i;
        for (;;) {
            if (csb[w].sample_rate == 0) {
                rc = imx_write_evt(IMX_UPLOAD_CAN_DEVICE, &csb[w], &csd[w], v, 1000 + (imx_utc_time_ms_t)i);
            } else {
                rc = imx_write_tsd(IMX_UPLOAD_CAN_DEVICE, &csb[w], &csd[w], v);
            }
            if (rc != IMX_OUT_OF_MEMORY) {
                break;
            }
            sched_yield(); /* the pool holds only pending data: let the reader ACK */
        }
        if (rc != IMX_SUCCESS) {
            fprintf(stderr, "writer %d: record %u: result %d\n", w, i, (int)rc);
            writer_failed = 1;
            return NULL;
        }
    }
    return NULL;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    uint32_t records = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000u;
    pthread_t threads[WRITERS];
    static tsd_evt_value_t buf[BATCH];
    uint32_t next[WRITERS];  /* next expected value */
    uint64_t lost = 0, duplicated = 0, out_of_order = 0, received = 0, redelivered = 0;
    uint64_t batches = 0, nacks = 0;
    mm2_core_config_t cfg;
    mm2_core_stats_t st;
    double start;
    int w;

    per_writer = records / WRITERS;
    memset(&cfg, 0, sizeof cfg);
    cfg.platform = "linux";
    cfg.dir = "";
    cfg.overflow = MM2_CORE_OVERFLOW_REJECT_NEW;
    RC(mm2_api_result(mm2_core_init(&cfg)), IMX_SUCCESS);
    for (w = 0; w < WRITERS; w++) {
        memset(&csb[w], 0, sizeof csb[w]);
        sprintf(csb[w].name, "Writer_%d", w);
        csb[w].id = 1 + (uint32_t)w;
        csb[w].sample_rate = rate[w];
        memset(&csd[w], 0, sizeof csd[w]);
        RC(imx_configure_sensor(IMX_UPLOAD_CAN_DEVICE, &csb[w], &csd[w]), IMX_SUCCESS);
        next[w] = 0;
    }
    if (failures) {
        return finish("concurrent_test");
    }

    start = seconds();
    for (w = 0; w < WRITERS; w++) {
        if (pthread_create(&threads[w], NULL, writer, (void *)(size_t)w) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }

    /* The reader/acker runs on the main thread. */
    while (received < (uint64_t)per_writer * WRITERS && !writer_failed) {
        int idle = 1;
        for (w = 0; w < WRITERS; w++) {
            uint16_t filled = 0, i;
            imx_result_t rc = imx_read_bulk_samples(IMX_UPLOAD_CAN_DEVICE, &csb[w], &csd[w], buf,
                                                    BATCH, BATCH, &filled);
            if (rc == IMX_NO_DATA) {
                continue;
            }
            if (rc != IMX_SUCCESS) {
                RC(rc, IMX_SUCCESS);
                writer_failed = 1;
                break;
            }
            idle = 0;
            batches++;
            if (batches % 8 == 0) {
                /* NACK: the same records must come back first, unchanged. */
                uint32_t first = buf[0].value;
                uint64_t first_time = buf[0].timestamp;
                uint16_t again = 0;
                RC(imx_revert_all_pending(IMX_UPLOAD_CAN_DEVICE, &csb[w], &csd[w]), IMX_SUCCESS);
                RC(imx_read_bulk_samples(IMX_UPLOAD_CAN_DEVICE, &csb[w], &csd[w], buf, filled, filled,
                                         &again),
                   IMX_SUCCESS);
                EXPECT(again == filled && buf[0].value == first && buf[0].timestamp == first_time);
                nacks++;
                redelivered += again;
            }
            for (i = 0; i < filled; i++) {
                uint32_t v = buf[i].value;
                if (v == next[w] && (rate[w] != 0 || buf[i].timestamp == 1000 + (uint64_t)v)) {
                    next[w]++;
                    received++;
                } else if (v < next[w]) {
                    duplicated++;
                } else if (v > next[w]) {
                    lost += v - next[w];
                    next[w] = v + 1;
                } else {
                    out_of_order++; /* right value, wrong timestamp */
                    next[w]++;
                }
            }
            RC(imx_erase_all_pending(IMX_UPLOAD_CAN_DEVICE, &csb[w], &csd[w]), IMX_SUCCESS);
        }
        if (idle) {
            sched_yield();
        }
    }
    for (w = 0; w < WRITERS; w++) {
        pthread_join(threads[w], NULL);
    }

    EXPECT(!writer_failed);
    EXPECT(received == (uint64_t)per_writer * WRITERS);
    EXPECT(lost == 0 && duplicated == 0 && out_of_order == 0);
    for (w = 0; w < WRITERS; w++) {
        EXPECT(next[w] == per_writer);
        EXPECT(imx_get_total_sample_count(IMX_UPLOAD_CAN_DEVICE, &csb[w], &csd[w]) == 0);
    }
    EXPECT(mm2_core_stats(&st) == MM2_CORE_OK);
    EXPECT(st.dropped_ram_full == 0 && st.pending_records == 0 && st.new_records == 0);
    EXPECT(st.used_sectors == 0);
    RC(imx_validate_sector_chains(IMX_UPLOAD_CAN_DEVICE, NULL, NULL), IMX_SUCCESS);
    printf("concurrent_test: %llu records in %.2f s, %llu lost, %llu duplicated, %llu out of order, "
           "%llu batches, %llu NACKs (%llu redelivered), %llu writes refused while full\n",
           (unsigned long long)received, seconds() - start, (unsigned long long)lost,
           (unsigned long long)duplicated, (unsigned long long)out_of_order,
           (unsigned long long)batches, (unsigned long long)nacks, (unsigned long long)redelivered,
           (unsigned long long)st.rejected_writes);
    RC(mm2_api_result(mm2_core_close(0)), IMX_SUCCESS);
    return finish("concurrent_test");
}
