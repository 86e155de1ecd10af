package main

/*
#include "mm2.h"
*/
import "C"

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/mm2go/mm2"
)

// tsd_evt_value_t and mm2.Sample have the same layout, so
// imx_read_bulk_samples lets ReadBulk fill the caller's array directly. These
// constants fail to compile (a negative constant converted to uintptr) if
// the layouts ever differ.
const (
	_ = unsafe.Sizeof(C.tsd_evt_value_t{}) - unsafe.Sizeof(mm2.Sample{})
	_ = unsafe.Sizeof(mm2.Sample{}) - unsafe.Sizeof(C.tsd_evt_value_t{})
	_ = unsafe.Offsetof(C.tsd_evt_value_t{}.value) - unsafe.Offsetof(mm2.Sample{}.Value)
	_ = unsafe.Offsetof(mm2.Sample{}.Value) - unsafe.Offsetof(C.tsd_evt_value_t{}.value)
	_ = unsafe.Offsetof(C.tsd_evt_value_t{}.timestamp) - unsafe.Offsetof(mm2.Sample{}.UTCms)
	_ = unsafe.Offsetof(mm2.Sample{}.UTCms) - unsafe.Offsetof(C.tsd_evt_value_t{}.timestamp)
	_ = unsafe.Offsetof(C.tsd_evt_value_t{}.sequence) - unsafe.Offsetof(mm2.Sample{}.Seq)
	_ = unsafe.Offsetof(mm2.Sample{}.Seq) - unsafe.Offsetof(C.tsd_evt_value_t{}.sequence)
)

// maxBulk is the most imx_read_bulk_samples returns: its count is uint16_t.
const maxBulk = math.MaxUint16

// raw is the 32 bits of an imx_data_32_t.
func raw(v C.imx_data_32_t) uint32 {
	b := *(*[4]byte)(unsafe.Pointer(&v))
	return binary.NativeEndian.Uint32(b[:])
}

// writable resolves a sensor for a write: configured and active.
func writable(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (*library, *sensorEnt, C.imx_result_t) {
	l, e, rc := lookup(src, csb, csd)
	if rc == rcOK && e.inactive.Load() {
		return nil, nil, rcInvalidEntry
	}
	return l, e, rc
}

//export imx_write_tsd
func imx_write_tsd(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, value C.imx_data_32_t) (rc C.imx_result_t) {
	defer guard(&rc)
	_, e, rc := writable(src, csb, csd)
	if rc != rcOK {
		return rc
	}
	return code(e.s.WriteTSD(raw(value)))
}

//export imx_write_evt
func imx_write_evt(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, value C.imx_data_32_t, utcMs C.imx_utc_time_ms_t) (rc C.imx_result_t) {
	defer guard(&rc)
	_, e, rc := writable(src, csb, csd)
	if rc != rcOK {
		return rc
	}
	return code(e.s.WriteEVT(raw(value), int64(utcMs)))
}

//export imx_write_event_with_gps
func imx_write_event_with_gps(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, value C.imx_data_32_t,
	lat, lon, alt, speed C.float) (rc C.imx_result_t) {
	defer guard(&rc)
	_, e, rc := writable(src, csb, csd)
	if rc != rcOK {
		return rc
	}
	fix := mm2.GPSFix{Latitude: float32(lat), Longitude: float32(lon), Altitude: float32(alt), Speed: float32(speed)}
	return code(e.s.WriteEventWithGPS(raw(value), fix))
}

func putData(out *C.tsd_evt_data_t, smp mm2.Sample) {
	out.value = C.uint32_t(smp.Value)
	out.utc_time_ms = C.imx_utc_time_ms_t(smp.UTCms)
	out.sequence = C.uint64_t(smp.Seq)
}

//export imx_read_next_tsd_evt
func imx_read_next_tsd_evt(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, out *C.tsd_evt_data_t) (rc C.imx_result_t) {
	defer guard(&rc)
	_, e, rc := lookup(src, csb, csd)
	if rc != rcOK {
		return rc
	}
	if out == nil {
		return rcInvalidParam
	}
	smp, err := e.s.Read()
	if err != nil {
		return code(err)
	}
	putData(out, smp)
	return rcOK
}

//export imx_peek_next_tsd_evt
func imx_peek_next_tsd_evt(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, out *C.tsd_evt_data_t) (rc C.imx_result_t) {
	defer guard(&rc)
	_, e, rc := lookup(src, csb, csd)
	if rc != rcOK {
		return rc
	}
	if out == nil {
		return rcInvalidParam
	}
	smp, err := e.s.Peek(0)
	if err != nil {
		return code(err)
	}
	putData(out, smp)
	return rcOK
}

//export imx_read_bulk_samples
func imx_read_bulk_samples(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, array *C.tsd_evt_value_t, arraySize, requested C.uint32_t,
	filled *C.uint16_t) (rc C.imx_result_t) {
	defer guard(&rc)
	if filled != nil {
		*filled = 0
	}
	_, e, rc := lookup(src, csb, csd)
	if rc != rcOK {
		return rc
	}
	if array == nil || filled == nil || arraySize == 0 || requested == 0 {
		return rcInvalidParam
	}
	n := min(uint32(arraySize), uint32(requested), maxBulk)
	dst := unsafe.Slice((*mm2.Sample)(unsafe.Pointer(array)), int(n))
	got, err := e.s.ReadBulk(dst)
	if err != nil {
		return code(err)
	}
	*filled = C.uint16_t(got)
	return rcOK
}

//export imx_erase_all_pending
func imx_erase_all_pending(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, recordCount C.uint32_t) (rc C.imx_result_t) {
	defer guard(&rc)
	_, e, rc := lookup(src, csb, csd)
	if rc != rcOK {
		return rc
	}
	if recordCount != 0 {
		// Exact with one reader per sensor; a concurrent reader of the same
		// sensor could add pending records between the check and the ACK.
		switch p := e.s.Counts().Pending; {
		case p == 0:
			return rcNoData
		case uint64(p) != uint64(recordCount):
			return rcInvalidParam
		}
	}
	_, err := e.s.Ack()
	return code(err)
}

//export imx_revert_all_pending
func imx_revert_all_pending(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (rc C.imx_result_t) {
	defer guard(&rc)
	_, e, rc := lookup(src, csb, csd)
	if rc != rcOK {
		return rc
	}
	_, err := e.s.Nack()
	return code(err)
}

// counts returns a sensor's counts, or zero counts and the error code.
func counts(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (mm2.Counts, C.imx_result_t) {
	_, e, rc := lookup(src, csb, csd)
	if rc != rcOK {
		return mm2.Counts{}, rc
	}
	return e.s.Counts(), rcOK
}

//export imx_has_pending_data
func imx_has_pending_data(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (has C.bool) {
	defer guardBool(&has)
	c, _ := counts(src, csb, csd)
	return C.bool(c.Pending > 0)
}

//export imx_get_new_sample_count
func imx_get_new_sample_count(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (n C.uint32_t) {
	defer guardU32(&n)
	c, _ := counts(src, csb, csd)
	return C.uint32_t(c.New)
}

//export imx_get_total_sample_count
func imx_get_total_sample_count(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (n C.uint32_t) {
	defer guardU32(&n)
	c, _ := counts(src, csb, csd)
	return C.uint32_t(c.Total)
}

//export imx_get_sensor_counts
func imx_get_sensor_counts(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, out *C.mm2_counts_t) (rc C.imx_result_t) {
	defer guard(&rc)
	c, rc := counts(src, csb, csd)
	if rc != rcOK {
		return rc
	}
	if out == nil {
		return rcInvalidParam
	}
	out.new_count = C.uint32_t(c.New)
	out.pending_count = C.uint32_t(c.Pending)
	out.total_count = C.uint32_t(c.Total)
	return rcOK
}
