#include "mm2.h"

/* imx_result_string is plain C so that it can return static constant
 * strings; everything else in the library is Go. */
const char *imx_result_string(imx_result_t result) {
    switch (result) {
    case IMX_SUCCESS: return "IMX_SUCCESS: success";
    case IMX_ERROR: return "IMX_ERROR: internal fault caught at the library boundary";
    case IMX_OUT_OF_MEMORY: return "IMX_OUT_OF_MEMORY: no room; nothing stored";
    case IMX_INVALID_PARAMETER: return "IMX_INVALID_PARAMETER: NULL pointer, bad source or bad value";
    case IMX_INVALID_ENTRY: return "IMX_INVALID_ENTRY: sensor not configured, stale handle or inactive";
    case IMX_TIMEOUT: return "IMX_TIMEOUT: power-down did not finish in time";
    case IMX_NO_DATA: return "IMX_NO_DATA: nothing to read, ACK or NACK";
    case IMX_INIT_ERROR: return "IMX_INIT_ERROR: the manager could not be created";
    case IMX_NOT_INITIALIZED: return "IMX_NOT_INITIALIZED: call imx_memory_manager_init first";
    case IMX_KIND_MISMATCH: return "IMX_KIND_MISMATCH: TSD/EVT kind or sample rate differs";
    case IMX_UTC_NOT_AVAILABLE: return "IMX_UTC_NOT_AVAILABLE: call imx_set_utc_available(1) first";
    case IMX_POWERING_DOWN: return "IMX_POWERING_DOWN: writes refused until power-abort recovery";
    case IMX_INVALID_STATE: return "IMX_INVALID_STATE: call does not fit the library state";
    case IMX_BACKEND_UNAVAILABLE: return "IMX_BACKEND_UNAVAILABLE: no disk backend in this build";
    case IMX_DISK_FULL: return "IMX_DISK_FULL: the disk tier is out of space";
    case IMX_CORRUPTED: return "IMX_CORRUPTED: invariant violations found";
    case IMX_IO_ERROR: return "IMX_IO_ERROR: disk I/O error";
    }
    return "unknown imx_result_t";
}
