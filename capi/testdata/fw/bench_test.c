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
 * bare cost of crossing into the library.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define ROUND 1500
#define ARRAY 375

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
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
    RC(mm2_api_result(mm2_core_close(0)), IMX_SUCCESS);
    return finish("bench_test");
}
