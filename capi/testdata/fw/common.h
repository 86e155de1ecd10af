/*
 * common.h - the test firmware's own header, written from the facts of the
 * shipped firmware (LEGACY_ABI): it owns the result codes, the upload
 * sources, the sensor blocks and the data union. Its values and layouts are
 * deliberately ones libmm2.a cannot assume: result codes that are not
 * mm2's, a csb whose id is not where the public 2018 layout has it (a long
 * name and a hash byte first), a csd in the documented field order with
 * the documented imx_mmcb_t inside, a 4- or 8-byte imx_data_32_t.
 * Build with -DAPPLIANCE_GATEWAY to shift the CAN source and NO_SOURCES by
 * one, as that firmware variant does.
 */
#ifndef COMMON_H
#define COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CAN_PLATFORM 1
#define LINUX_PLATFORM 1

/* A positive enum, as in the firmware. The certain values are the
 * documented ones; the memory manager's INVALID_PARAMETER, NOT_FOUND and
 * INIT_ERROR have undocumented values, chosen here so that no library
 * could guess them. */
typedef enum {
    IMX_SUCCESS = 0,
    IMX_INVALID_ENTRY = 1,
    IMX_GENERAL_FAILURE = 2,
    IMX_OUT_OF_MEMORY = 14,
    IMX_NO_DATA = 34,
    IMX_ERROR = 39,
    IMX_TIMEOUT = 40,
    IMX_CAN_NODE_NOT_FOUND = 47,
    IMX_FAIL_MEMORY_INIT = 53,
    IMX_FILE_ERROR = 54,
    IMX_NOT_FOUND = 77,
    IMX_INVALID_PARAMETER = 81,
    IMX_INIT_ERROR = 93
} imx_result_t;

typedef enum {
    IMX_UPLOAD_GATEWAY = 0,
    IMX_UPLOAD_HOSTED_DEVICE,
    IMX_UPLOAD_BLE_DEVICE,
#ifdef APPLIANCE_GATEWAY
    IMX_UPLOAD_APPLIANCE_DEVICE,
#endif
#ifdef CAN_PLATFORM
    IMX_UPLOAD_CAN_DEVICE,
#endif
    IMX_UPLOAD_NO_SOURCES
} imatrix_upload_source_t;

typedef uint64_t imx_utc_time_ms_t;
typedef uint32_t imx_time_t;

/* 4 bytes on 32-bit targets, 8 on 64-bit ones (the pointer member). */
typedef union {
    uint32_t uint_32bit;
    int32_t int_32bit;
    float float_32bit;
    void *ptr;
} imx_data_32_t;

/* The shipped csb is not public: a longer name, a hash byte, calibration
 * and state fields. The memory manager may read only id, sample_rate and
 * name. */
typedef struct imx_control_sensor_block {
    char name[48];
    uint8_t name_hash;
    uint8_t enabled;
    uint16_t flags;
    uint32_t id;
    uint32_t sample_rate; /* ms; 0 = event sensor */
    uint32_t poll_rate;
    float calibration[3];
    uint32_t state;
} imx_control_sensor_block_t;

/* The documented imx_mmcb_t on Linux. */
typedef struct {
    uint32_t ram_start_sector_id;
    uint32_t ram_end_sector_id;
    uint16_t ram_read_sector_offset;
    uint16_t ram_write_sector_offset;
    struct {
        uint32_t pending_count;
        uint32_t pending_start_sector;
        uint16_t pending_start_offset;
    } pending_by_source[IMX_UPLOAD_NO_SOURCES];
    pthread_mutex_t sensor_lock;
    int active_spool_fd;
    uint64_t current_spool_file_size;
    char active_spool_filename[256];
    uint64_t total_records;
    uint64_t total_disk_records;
    uint64_t last_sample_time;
} imx_mmcb_t;

/* The documented csd order; the firmware reads and writes every field
 * except mmcb between calls. */
typedef struct control_sensor_data {
    uint64_t last_sample_time;
    uint16_t no_samples;
    uint16_t no_pending;
    uint32_t errors;
    imx_time_t last_poll_time, condition_started_time;
    imx_data_32_t last_raw_value, last_value;
    imx_mmcb_t mmcb;
    unsigned int error : 8, last_error : 8, update_now : 1, warning : 2, last_warning : 2,
        percent_changed : 1, active : 1, valid : 1, sent_first_reading : 1,
        sensor_auto_updated : 1, reset_max_value : 1;
} control_sensor_data_t;

/* The firmware's position functions, called back by the GPS writes. */
float imx_get_latitude(void);
float imx_get_longitude(void);
float imx_get_altitude(void);
bool imx_get_gps_speed(float *speed);

#endif
