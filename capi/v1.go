package main

/*
#include "mm2.h"
*/
import "C"

import (
	"time"
	"unsafe"

	"github.com/mm2go/mm2"
)

// The v1 calls address a sensor as entry `entry` of the caller's csb and csd
// arrays; the caller guarantees the arrays hold it, as v1 did.

// nowMs is the event time of v1 writes without a time: the system clock, as
// the manager's own (Options.Clock is not set by this library).
func nowMs() int64 { return time.Now().UnixMilli() }

// entryOf returns &csb[entry], &csd[entry] (nil when an array is nil).
func entryOf(csb *C.imx_control_sensor_block_t, csd *C.control_sensor_data_t,
	entry C.uint16_t) (*C.imx_control_sensor_block_t, *C.control_sensor_data_t) {
	if csb == nil || csd == nil {
		return nil, nil
	}
	return &unsafe.Slice(csb, int(entry)+1)[entry], &unsafe.Slice(csd, int(entry)+1)[entry]
}

//export write_tsd_evt
func write_tsd_evt(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, entry C.uint16_t, value C.uint32_t, addGPS C.bool) (rc C.imx_result_t) {
	defer guard(&rc)
	b, d := entryOf(csb, csd, entry)
	l, e, rc := writable(src, b, d)
	if rc != rcOK {
		return rc
	}
	switch {
	case e.s.Kind() == mm2.TSD:
		return code(e.s.WriteTSD(uint32(value)))
	case bool(addGPS):
		l.mu.Lock()
		fix := l.fix
		l.mu.Unlock()
		return code(e.s.WriteEventWithGPS(uint32(value), fix))
	}
	return code(e.s.WriteEVT(uint32(value), nowMs()))
}

//export write_tsd_evt_time
func write_tsd_evt_time(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, entry C.uint16_t, value C.uint32_t, utcSeconds C.uint32_t) (rc C.imx_result_t) {
	defer guard(&rc)
	b, d := entryOf(csb, csd, entry)
	_, e, rc := writable(src, b, d)
	if rc != rcOK {
		return rc
	}
	if e.s.Kind() == mm2.TSD {
		return code(e.s.WriteTSD(uint32(value)))
	}
	return code(e.s.WriteEVT(uint32(value), int64(utcSeconds)*1000))
}

//export read_tsd_evt
func read_tsd_evt(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, entry C.uint16_t, value *C.uint32_t) (rc C.imx_result_t) {
	defer guard(&rc)
	b, d := entryOf(csb, csd, entry)
	_, e, rc := lookup(src, b, d)
	if rc != rcOK {
		return rc
	}
	if value == nil {
		return rcInvalidParam
	}
	smp, err := e.s.Read()
	if err != nil {
		return code(err)
	}
	*value = C.uint32_t(smp.Value)
	return rcOK
}

//export erase_tsd_evt
func erase_tsd_evt(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, entry C.uint16_t) (rc C.imx_result_t) {
	defer guard(&rc)
	b, d := entryOf(csb, csd, entry)
	_, e, rc := lookup(src, b, d)
	if rc != rcOK {
		return rc
	}
	_, err := e.s.Ack()
	return code(err)
}

//export revert_tsd_evt_pending_data
func revert_tsd_evt_pending_data(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, noItems C.uint16_t) (rc C.imx_result_t) {
	defer guard(&rc)
	if current.Load() == nil {
		return rcNotInitialized
	}
	if csb == nil || csd == nil || !validSource(src) {
		return rcInvalidParam
	}
	for i := range C.uint16_t(noItems) {
		b, d := entryOf(csb, csd, i)
		if _, e, rc := lookup(src, b, d); rc == rcOK {
			_, _ = e.s.Nack() // nothing pending: skipped
		} else if rc == rcNotInitialized {
			return rc
		}
	}
	return rcOK
}
