/*
 * shipped_prototypes.c - every prototype of the memory manager as the
 * shipped firmware declares and calls it (LEGACY_ABI), redeclared after
 * mm2_api.h: C refuses to compile a redeclaration whose return type or
 * argument list differs, so this file compiling is the check. The calls
 * below are the shipped call sites' shapes (argument counts and types).
 */
#include "mm2_api.h"

typedef imatrix_upload_source_t S;
typedef imx_control_sensor_block_t *B;
typedef control_sensor_data_t *D;

imx_result_t imx_memory_manager_init(uint32_t pool_size);
imx_result_t imx_configure_sensor(S, B, D);
imx_result_t imx_activate_sensor(S, B, D);
imx_result_t imx_deactivate_sensor(S, B, D);
imx_result_t imx_recover_sensor_disk_data(S, B, D);
imx_result_t imx_write_tsd(S, B, D, imx_data_32_t value);
imx_result_t imx_write_evt(S, B, D, imx_data_32_t value, imx_utc_time_ms_t utc_ms);
imx_result_t imx_write_event_with_gps(S, B, D, imx_data_32_t value);
imx_result_t imx_write_gps_location(S, imx_utc_time_ms_t event_time);
imx_result_t imx_init_gps_config_for_source(S, B csb_array, D csd_array, uint16_t no_sensors,
                                            uint16_t lat, uint16_t lon, uint16_t alt, uint16_t speed);
imx_result_t imx_read_bulk_samples(S, B, D, tsd_evt_value_t *array, uint32_t array_size,
                                   uint32_t requested, uint16_t *filled);
imx_result_t imx_peek_bulk_samples(S, B, D, tsd_evt_value_t *array, uint32_t array_size,
                                   uint32_t start_index, uint32_t requested, uint16_t *filled);
imx_result_t imx_read_next_tsd_evt(S, B, D, tsd_evt_data_t *data);
imx_result_t imx_peek_next_tsd_evt(S, B, D, uint32_t index, tsd_evt_data_t *data);
imx_result_t imx_erase_all_pending(S, B, D);
imx_result_t imx_revert_all_pending(S, B, D);
bool imx_has_pending_data(S, B, D);
uint32_t imx_get_new_sample_count(S, B, D);
uint32_t imx_get_total_sample_count(S, B, D);
imx_result_t imx_memory_manager_shutdown(S, B, D, uint32_t timeout_ms);
imx_result_t imx_get_memory_stats(mm2_stats_t *stats);
imx_result_t process_memory_manager(imx_time_t now);
void imx_power_event_detected(void);
imx_result_t handle_power_abort_recovery(void);
imx_result_t imx_set_utc_available(int available);
imx_result_t imx_validate_sector_chains(S, B, D);
imx_result_t imx_get_sensor_state(S, B, D, mm2_sensor_state_t *state);
uint32_t imx_force_garbage_collection(S, B, D);
imx_result_t imx_clear_all_disk_history(int verbose);
int imx_memory_manager_ready(void);
/* v1 */
imx_result_t imx_sat_init(void);
void write_tsd_evt(B, D, uint16_t entry, uint32_t value, bool add_gps_location);
void write_tsd_evt_time(B, D, uint16_t entry, uint32_t value, uint32_t utc_time);
void read_tsd_evt(B, D, uint16_t entry, uint32_t *value);
void erase_tsd_evt(B, D, uint16_t entry);
void revert_tsd_evt_pending_data(B, D, uint16_t no_items);
void erase_tsd_evt_pending_data(B, D, uint16_t no_items);

/* The shipped upload loop's shape: uint16_t count, array of 375. */
void shipped_upload_shape(S src, B csb, D csd);
void shipped_upload_shape(S src, B csb, D csd) {
    static tsd_evt_value_t array[375];
    uint16_t filled = 0;
    uint16_t n = (uint16_t)imx_get_new_sample_count(src, csb, csd);
    if (imx_read_bulk_samples(src, csb, csd, array, 375, n, &filled) == IMX_SUCCESS && filled == n) {
        (void)imx_erase_all_pending(src, csb, csd);
    } else {
        (void)imx_revert_all_pending(src, csb, csd);
    }
}
