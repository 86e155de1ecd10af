/*
 * bench_write.c - the cost of imx_write_tsd through the C boundary.
 *
 *   bench_write [N]     N timed writes (default 2,000,000)
 *
 * One TSD sensor with a 1-hour period, so consecutive samples share sectors
 * (6 per 32-byte sector) as they would at the sensor's real rate. Writes are
 * timed in rounds of ROUND; between rounds, untimed, the samples are read
 * and ACKed so the pool never fills (no drops in the measurement). The Go
 * benchmark BenchmarkWriteTSDGo in capi_test.go does exactly the same
 * without the boundary. Also reported: an empty call (process_memory_manager)
 * as the bare cost of crossing into Go.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define ROUND 4096

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000L;
    imx_control_sensor_block_t csb = {1, 3600000};
    control_sensor_data_t csd;
    static tsd_evt_value_t buf[ROUND];
    double write_ns = 0, t0;
    long done = 0, i;
    uint16_t filled;
    imx_data_32_t v;

    RC(imx_memory_manager_init(0), IMX_SUCCESS);
    memset(&csd, 0, sizeof csd);
    RC(imx_configure_sensor(IMX_UPLOAD_CAN_DEVICE, &csb, &csd), IMX_SUCCESS);
    while (done < n && failures == 0) {
        long k = n - done < ROUND ? n - done : ROUND;
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
        while (imx_read_bulk_samples(IMX_UPLOAD_CAN_DEVICE, &csb, &csd, buf, ROUND, ROUND, &filled) ==
               IMX_SUCCESS) {
            RC(imx_erase_all_pending(IMX_UPLOAD_CAN_DEVICE, &csb, &csd, filled), IMX_SUCCESS);
        }
    }
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        (void)process_memory_manager(0);
    }
    printf("imx_write_tsd: %.1f ns/call over %ld calls\n", write_ns / (double)n, n);
    printf("empty call (process_memory_manager): %.1f ns/call\n", (now_ns() - t0) / (double)n);
    RC(imx_memory_manager_shutdown(0), IMX_SUCCESS);
    return finish("bench_write");
}
