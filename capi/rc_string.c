#include "mm2_core.h"

/* mm2_core_rc_string is plain C so that it can return static constant
 * strings; everything else in the archive is Go. */
const char *mm2_core_rc_string(mm2_core_rc_t rc) {
    switch (rc) {
    case MM2_CORE_OK: return "MM2_CORE_OK: success";
    case MM2_CORE_ERROR: return "MM2_CORE_ERROR: internal fault caught at the library boundary";
    case MM2_CORE_OUT_OF_MEMORY: return "MM2_CORE_OUT_OF_MEMORY: no room; nothing stored";
    case MM2_CORE_INVALID_PARAMETER: return "MM2_CORE_INVALID_PARAMETER: NULL pointer, bad source or bad value";
    case MM2_CORE_INVALID_ENTRY: return "MM2_CORE_INVALID_ENTRY: sensor not configured by this instance";
    case MM2_CORE_INACTIVE: return "MM2_CORE_INACTIVE: sensor deactivated";
    case MM2_CORE_TIMEOUT: return "MM2_CORE_TIMEOUT: power-down did not finish in time";
    case MM2_CORE_NO_DATA: return "MM2_CORE_NO_DATA: nothing to read, ACK or NACK";
    case MM2_CORE_INIT_ERROR: return "MM2_CORE_INIT_ERROR: the manager could not be created";
    case MM2_CORE_NOT_INITIALIZED: return "MM2_CORE_NOT_INITIALIZED: not initialised";
    case MM2_CORE_KIND_MISMATCH: return "MM2_CORE_KIND_MISMATCH: TSD/EVT kind or sample rate differs";
    case MM2_CORE_UTC_NOT_AVAILABLE: return "MM2_CORE_UTC_NOT_AVAILABLE: UTC not known yet";
    case MM2_CORE_POWERING_DOWN: return "MM2_CORE_POWERING_DOWN: writes refused until power-abort";
    case MM2_CORE_INVALID_STATE: return "MM2_CORE_INVALID_STATE: call does not fit the library state";
    case MM2_CORE_BACKEND_UNAVAILABLE: return "MM2_CORE_BACKEND_UNAVAILABLE: the disk directory cannot be used";
    case MM2_CORE_DISK_FULL: return "MM2_CORE_DISK_FULL: the disk tier is out of space";
    case MM2_CORE_CORRUPTED: return "MM2_CORE_CORRUPTED: invariant violations found";
    case MM2_CORE_IO_ERROR: return "MM2_CORE_IO_ERROR: disk I/O error";
    }
    return "unknown mm2_core_rc_t";
}
