/*
 * bench_test.c - the C call cost of imx_write_tsd and imx_read_bulk_samples
 * through the legacy layer and the core ABI.
 *
 *   bench_test [N]     N timed writes and N records read (default 2,000,000)
 *
 * One TSD sensor with a 1-hour period. Writes are timed in rounds of ROUND
 * (fewer records than the pool has sectors: samples written faster than
 * their period take a sector each); then the round is read back in blocks
 * of 375 (the shipped upload array) with imx_read_bulk_samples, timed, and
 * ACKed untimed, so the pool never fills and nothing is dropped. Also reported: an empty call (process_memory_manager), the
 * bare cost of crossing into the library; and through the core ABI, N
 * events written one mm2_core_write_evt each and the same N in batches of
 * BATCH with mm2_core_write_batch (rounds of ROUND, drained untimed).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define ROUND 1500
#define ARRAY 375
#define BATCH 100
#define T0 1700000000000ULL

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* drain reads and ACKs everything of the sensor (untimed). */
static void drain(mm2_ref_t ref, uint32_t source, uint32_t id, long *got) {
    static mm2_core_sample_t s[ARRAY];
    uint32_t filled = 0;
    while (mm2_core_read(ref, source, id, s, NULL, ARRAY, &filled) == MM2_CORE_OK) {
        *got += filled;
        EXPECT(mm2_api_result(mm2_core_ack(ref, source, id, NULL)) == IMX_SUCCESS);
    }
}

/* bench_batch times n events written one call each, then in batches. */
static void bench_batch(long n) {
    static mm2_core_write_t w[ROUND];
    const uint32_t source = MM2_CORE_MAX_SOURCES - 1, id = 77;
    double single_ns = 0, batch_ns = 0, t0;
    long done, i, got_single = 0, got_batch = 0;
    uint32_t stored;
    mm2_ref_t ref = 0;

    RC(mm2_api_result(mm2_core_configure(source, id, 0, &ref)), IMX_SUCCESS);
    for (i = 0; i < ROUND; i++) {
        w[i].ref = ref;
        w[i].source = source;
        w[i].id = id;
        w[i].value = (uint32_t)i;
        w[i].utc_ms = T0 + (uint64_t)i;
    }
    for (done = 0; done < n && failures == 0; done += ROUND) {
        long k = n - done < ROUND ? n - done : ROUND;
        t0 = now_ns();
        for (i = 0; i < k; i++) {
            if (mm2_core_write_evt(ref, source, id, w[i].value, w[i].utc_ms) != MM2_CORE_OK) {
                EXPECT(0);
                break;
            }
        }
        single_ns += now_ns() - t0;
        drain(ref, source, id, &got_single);
        t0 = now_ns();
        for (i = 0; i < k; i += BATCH) {
            uint32_t b = (uint32_t)(k - i < BATCH ? k - i : BATCH);
            if (mm2_core_write_batch(&w[i], b, &stored) != MM2_CORE_OK || stored != b) {
                EXPECT(0);
                break;
            }
        }
        batch_ns += now_ns() - t0;
        drain(ref, source, id, &got_batch);
    }
    EXPECT(got_single == n && got_batch == n);
    printf("mm2_core_write_evt: %.1f ns/sample over %ld samples\n", single_ns / (double)n, n);
    printf("mm2_core_write_batch: %.1f ns/sample over %ld samples (batches of %d)\n",
           batch_ns / (double)n, n, BATCH);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000L;
    imx_control_sensor_block_t csb;
    control_sensor_data_t csd;
    static tsd_evt_value_t buf[ARRAY];
    double write_ns = 0, read_ns = 0, t0;
    long done = 0, read = 0, i;
    uint16_t filled;
    imx_data_32_t v;

    RC(imx_memory_manager_init(0), IMX_SUCCESS);
    memset(&csb, 0, sizeof csb);
    strcpy(csb.name, "Bench");
    csb.id = 1;
    csb.sample_rate = 3600000;
    memset(&csd, 0, sizeof csd);
    RC(imx_configure_sensor(IMX_UPLOAD_CAN_DEVICE, &csb, &csd), IMX_SUCCESS);
    while (done < n && failures == 0) {
        long k = n - done < ROUND ? n - done : ROUND;
        imx_result_t rc = IMX_SUCCESS;
        t0 = now_ns();
        for (i = 0; i < k; i++) {
            v.uint_32bit = (uint32_t)i;
            if (imx_write_tsd(IMX_UPLOAD_CAN_DEVICE, &csb, &csd, v) != IMX_SUCCESS) {
                RC(imx_write_tsd(IMX_UPLOAD_CAN_DEVICE, &csb, &csd, v), IMX_SUCCESS);
                break;
            }
        }
        write_ns += now_ns() - t0;
        done += k;
        while (rc == IMX_SUCCESS) {
            t0 = now_ns();
            rc = imx_read_bulk_samples(IMX_UPLOAD_CAN_DEVICE, &csb, &csd, buf, ARRAY, ARRAY, &filled);
            read_ns += now_ns() - t0;
            if (rc == IMX_SUCCESS) {
                read += filled;
                RC(imx_erase_all_pending(IMX_UPLOAD_CAN_DEVICE, &csb, &csd), IMX_SUCCESS);
            }
        }
        RC(rc, IMX_NO_DATA);
    }
    EXPECT(read == n);
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        (void)process_memory_manager(0);
    }
    printf("imx_write_tsd: %.1f ns/call over %ld calls\n", write_ns / (double)n, n);
    printf("imx_read_bulk_samples: %.1f ns/record over %ld records (blocks of %d)\n",
           read_ns / (double)(read ? read : 1), read, ARRAY);
    printf("empty call (process_memory_manager): %.1f ns/call\n", (now_ns() - t0) / (double)n);
    bench_batch(n);
    RC(mm2_api_result(mm2_core_close(0)), IMX_SUCCESS);
    return finish("bench_test");
}
