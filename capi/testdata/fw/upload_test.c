/*
 * upload_test.c - the firmware's sampling and upload loop, written like the
 * shipped call sites, against live writes from a sampling thread.
 *
 *   upload_test [RECORDS]     records per sensor (default 20,000)
 *
 * Built with -DAPPLIANCE_GATEWAY, so the CAN source and NO_SOURCES are one
 * higher than in the other test programs: the library must take them from
 * the firmware's header. Per packet, for every sensor of every source: n =
 * imx_get_new_sample_count (kept in a uint16_t), read min(n, space) with
 * imx_read_bulk_samples into the 375-record array; the block counts only if
 * the result is IMX_SUCCESS and filled == requested, otherwise the sensor
 * is skipped and what was read stays pending. The "server" accepts four
 * packets of five: ACK = imx_erase_all_pending for every sensor with
 * pending data; a refused packet is NACKed (imx_revert_all_pending) and its
 * records must come again, in order. Every record must be accepted exactly
 * once, in order. The sampler keeps at most about BACKLOG records per sensor
 * waiting, so the pool never fills and nothing is dropped.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define SENSORS 12
#define ARRAY 375
#define BACKLOG 150 /* records per sensor the sampler lets wait */

static imatrix_upload_source_t src_of[SENSORS];
static imx_control_sensor_block_t csb[SENSORS];
static control_sensor_data_t csd[SENSORS];
static uint32_t records;
static volatile int sampler_failed, stop;

static void *sampler(void *arg) {
    uint32_t i;
    int s;
    (void)arg;
    for (i = 0; i < records; i++) {
        for (s = 0; s < SENSORS; s++) {
            imx_data_32_t v;
            imx_result_t rc;
            v.uint_32bit = i;
            if (csb[s].sample_rate == 0) {
                rc = imx_write_evt(src_of[s], &csb[s], &csd[s], v, 1000000 + (imx_utc_time_ms_t)i);
            } else {
                rc = imx_write_tsd(src_of[s], &csb[s], &csd[s], v);
            }
            if (rc != IMX_SUCCESS) {
                fprintf(stderr, "sampler: sensor %d record %u: result %d\n", s, i, (int)rc);
                sampler_failed = 1;
                return NULL;
            }
        }
        /* Sample no faster than the upload drains (the gateway samples at
         * real rates): the 64 KB pool must never fill, or the oldest
         * records would be dropped, by design, and the check below fail. */
        while (imx_get_total_sample_count(src_of[0], &csb[0], &csd[0]) > BACKLOG && !stop) {
            sched_yield();
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    static tsd_evt_value_t array[ARRAY];
    static uint32_t accepted[SENSORS];     /* next value the server expects */
    static uint32_t in_packet[SENSORS];    /* records of the sensor in this packet */
    static uint32_t first_value[SENSORS];  /* its first value in this packet */
    uint64_t packets = 0, nacked = 0, skipped = 0, total = 0;
    pthread_t thread;
    int s, done = 0;

    records = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 20000u;
    EXPECT(IMX_UPLOAD_CAN_DEVICE == 4 && IMX_UPLOAD_NO_SOURCES == 5);
    RC(imx_memory_manager_init(0), IMX_SUCCESS);
    for (s = 0; s < SENSORS; s++) {
        char name[32];
        sprintf(name, "Sensor_%02d_of_the_bus", s);
        memset(&csb[s], 0, sizeof csb[s]);
        memcpy(csb[s].name, name, strlen(name));
        csb[s].id = 1000 + (uint32_t)s * 3;
        csb[s].sample_rate = s % 3 == 0 ? 1000u : 0u;
        src_of[s] = s % 2 ? IMX_UPLOAD_CAN_DEVICE : IMX_UPLOAD_GATEWAY;
        memset(&csd[s], 0, sizeof csd[s]);
        RC(imx_configure_sensor(src_of[s], &csb[s], &csd[s]), IMX_SUCCESS);
        RC(imx_activate_sensor(src_of[s], &csb[s], &csd[s]), IMX_SUCCESS);
        RC(imx_recover_sensor_disk_data(src_of[s], &csb[s], &csd[s]), IMX_SUCCESS);
    }
    if (failures || pthread_create(&thread, NULL, sampler, NULL) != 0) {
        return finish("upload_test");
    }

    while (!done && !sampler_failed && failures < 20) {
        uint32_t space = ARRAY;
        int accept;
        packets++;
        accept = packets % 5 != 0;
        for (s = 0; s < SENSORS; s++) {
            uint16_t n, filled = 0;
            uint32_t requested, k;
            imx_result_t rc;
            in_packet[s] = 0;
            n = (uint16_t)imx_get_new_sample_count(src_of[s], &csb[s], &csd[s]);
            if (n == 0 || space == 0) {
                continue;
            }
            requested = n < space ? n : space;
            rc = imx_read_bulk_samples(src_of[s], &csb[s], &csd[s], array, ARRAY, requested, &filled);
            if (rc != IMX_SUCCESS || filled != requested) {
                skipped++;
                continue;
            }
            for (k = 0; k < filled; k++) {
                uint32_t want = accepted[s] + k;
                if (array[k].value != want ||
                    (csb[s].sample_rate == 0 && array[k].timestamp != 1000000 + (uint64_t)want)) {
                    fprintf(stderr, "sensor %d: got %u at %llu, want %u\n", s, array[k].value,
                            (unsigned long long)array[k].timestamp, want);
                    failures++;
                    break;
                }
            }
            in_packet[s] = filled;
            first_value[s] = array[0].value;
            space -= filled;
        }
        for (s = 0; s < SENSORS; s++) {
            if (!imx_has_pending_data(src_of[s], &csb[s], &csd[s])) {
                EXPECT(in_packet[s] == 0);
                continue;
            }
            if (accept) {
                RC(imx_erase_all_pending(src_of[s], &csb[s], &csd[s]), IMX_SUCCESS);
                accepted[s] += in_packet[s];
                total += in_packet[s];
            } else {
                RC(imx_revert_all_pending(src_of[s], &csb[s], &csd[s]), IMX_SUCCESS);
            }
        }
        if (!accept) {
            nacked++;
        }
        done = 1;
        for (s = 0; s < SENSORS; s++) {
            if (accepted[s] < records) {
                done = 0;
            }
        }
        if (space == ARRAY) {
            sched_yield(); /* nothing new yet */
        }
    }
    stop = 1;
    pthread_join(thread, NULL);
    EXPECT(!sampler_failed);
    for (s = 0; s < SENSORS; s++) {
        EXPECT(accepted[s] == records);
        EXPECT(imx_get_total_sample_count(src_of[s], &csb[s], &csd[s]) == 0);
    }
    RC(imx_validate_sector_chains(IMX_UPLOAD_GATEWAY, NULL, NULL), IMX_SUCCESS);
    (void)first_value;
    printf("upload_test: %llu records accepted over %llu packets (%llu refused and resent, "
           "%llu blocks skipped)\n",
           (unsigned long long)total, (unsigned long long)packets, (unsigned long long)nacked,
           (unsigned long long)skipped);
    return finish("upload_test");
}
