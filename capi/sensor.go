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

// kindOf is a sensor's kind and period from its sample_rate (0 = EVT).
func kindOf(csb *C.imx_control_sensor_block_t) (mm2.Kind, time.Duration) {
	if csb.sample_rate == 0 {
		return mm2.EVT, 0
	}
	return mm2.TSD, time.Duration(csb.sample_rate) * time.Millisecond
}

// configure declares (src, csb->id) and writes its handle into csd.
func configure(l *library, src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) C.imx_result_t {
	kind, period := kindOf(csb)
	s, err := l.m.Configure(mm2.StreamID{Source: mm2.Source(src), Sensor: uint32(csb.id)}, kind, period)
	if err != nil {
		return code(err)
	}
	h := l.handleFor(s)
	csd.mm2_handle = C.uint32_t(h)
	csd.mm2_instance = C.uint32_t(l.instance)
	return rcOK
}

//export imx_configure_sensor
func imx_configure_sensor(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (rc C.imx_result_t) {
	defer guard(&rc)
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	if csb == nil || csd == nil || !validSource(src) {
		return rcInvalidParam
	}
	return configure(l, src, csb, csd)
}

//export imx_activate_sensor
func imx_activate_sensor(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (rc C.imx_result_t) {
	defer guard(&rc)
	_, e, rc := lookup(src, csb, csd)
	if rc == rcOK {
		e.inactive.Store(false)
	}
	return rc
}

//export imx_deactivate_sensor
func imx_deactivate_sensor(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (rc C.imx_result_t) {
	defer guard(&rc)
	_, e, rc := lookup(src, csb, csd)
	if rc == rcOK {
		e.inactive.Store(true)
	}
	return rc
}

//export imx_init_gps_config_for_source
func imx_init_gps_config_for_source(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t, noSensors C.uint16_t,
	lat, lon, alt, speed C.int16_t) (rc C.imx_result_t) {
	defer guard(&rc)
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	if csb == nil || csd == nil || !validSource(src) {
		return rcInvalidParam
	}
	entries := [4]int{int(lat), int(lon), int(alt), int(speed)}
	for i, e := range entries {
		if e < 0 || e >= int(noSensors) {
			return rcInvalidParam
		}
		for _, other := range entries[:i] {
			if other == e {
				return rcInvalidParam
			}
		}
	}
	blocks := unsafe.Slice(csb, int(noSensors))
	datas := unsafe.Slice(csd, int(noSensors))
	var ids [4]uint32
	for i, e := range entries {
		if blocks[e].sample_rate != 0 {
			return rcKindMismatch
		}
		ids[i] = uint32(blocks[e].id)
	}
	cfg := mm2.GPSConfig{Latitude: ids[0], Longitude: ids[1], Altitude: ids[2], Speed: ids[3]}
	if err := l.m.SetGPS(mm2.Source(src), cfg); err != nil {
		return code(err)
	}
	// SetGPS configured the four EVT streams; Configure returns their handles.
	for _, e := range entries {
		if rc := configure(l, src, &blocks[e], &datas[e]); rc != rcOK {
			return rc
		}
	}
	return rcOK
}

//export imx_set_gps_fix
func imx_set_gps_fix(lat, lon, alt, speed C.float) (rc C.imx_result_t) {
	defer guard(&rc)
	l := current.Load()
	if l == nil {
		return rcNotInitialized
	}
	l.mu.Lock()
	l.fix = mm2.GPSFix{Latitude: float32(lat), Longitude: float32(lon), Altitude: float32(alt), Speed: float32(speed)}
	l.mu.Unlock()
	return rcOK
}
