/* position.c - the test firmware's GPS: a fixed, settable position. */
#include "common.h"

float fw_lat = 1.5f, fw_lon = -2.25f, fw_alt = 300.0f, fw_speed = 12.0f;

float imx_get_latitude(void) { return fw_lat; }
float imx_get_longitude(void) { return fw_lon; }
float imx_get_altitude(void) { return fw_alt; }

bool imx_get_gps_speed(float *speed) {
    *speed = fw_speed;
    return true;
}
