// Command capi is the C archive of mm2: the iMatrix Memory Manager v2 API
// for C programs. Build it with
//
//	go build -buildmode=c-archive -o libmm2.a ./capi
//
// and include capi/mm2.h, the hand-written header that documents every call,
// its error codes and its thread-safety. docs/legacy.md explains linking and
// the differences from the original C library.
//
// The archive keeps one library instance in package state (a C library has
// nowhere else to keep it): an mm2.Manager and a table of stream handles.
// imx_configure_sensor stores a handle (table index + 1) and the instance
// number in the caller's control_sensor_data_t, so the hot path indexes the
// table instead of looking the sensor up, and no Go pointer ever reaches C.
// Every export recovers from panics and returns IMX_ERROR, so nothing
// unwinds across the C boundary.
package main

/*
#include "mm2.h"
*/
import "C"

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/mm2go/mm2"
)

func main() {}

// Result codes as Go values of the C type.
const (
	rcOK             = C.imx_result_t(C.IMX_SUCCESS)
	rcError          = C.imx_result_t(C.IMX_ERROR)
	rcOutOfMemory    = C.imx_result_t(C.IMX_OUT_OF_MEMORY)
	rcInvalidParam   = C.imx_result_t(C.IMX_INVALID_PARAMETER)
	rcInvalidEntry   = C.imx_result_t(C.IMX_INVALID_ENTRY)
	rcTimeout        = C.imx_result_t(C.IMX_TIMEOUT)
	rcNoData         = C.imx_result_t(C.IMX_NO_DATA)
	rcInitError      = C.imx_result_t(C.IMX_INIT_ERROR)
	rcNotInitialized = C.imx_result_t(C.IMX_NOT_INITIALIZED)
	rcKindMismatch   = C.imx_result_t(C.IMX_KIND_MISMATCH)
	rcUTCUnavailable = C.imx_result_t(C.IMX_UTC_NOT_AVAILABLE)
	rcPoweringDown   = C.imx_result_t(C.IMX_POWERING_DOWN)
	rcInvalidState   = C.imx_result_t(C.IMX_INVALID_STATE)
	rcNoBackend      = C.imx_result_t(C.IMX_BACKEND_UNAVAILABLE)
	rcDiskFull       = C.imx_result_t(C.IMX_DISK_FULL)
	rcCorrupted      = C.imx_result_t(C.IMX_CORRUPTED)
	rcIOError        = C.imx_result_t(C.IMX_IO_ERROR)
)

// library is one initialised instance: from imx_memory_manager_init to
// imx_memory_manager_shutdown.
type library struct {
	m        *mm2.Manager
	instance uint32 // never 0, so a zeroed csd is never valid

	mu    sync.Mutex                  // guards byID, n, fix; table stores happen under it
	byID  map[mm2.StreamID]uint32     // handle of each configured stream
	n     int                         // handles issued
	table []atomic.Pointer[sensorEnt] // fixed at MaxStreams: never reallocated, read without mu
	fix   mm2.GPSFix                  // position for v1 write_tsd_evt with GPS
}

// sensorEnt is one handle's stream.
type sensorEnt struct {
	s        *mm2.Stream
	id       mm2.StreamID
	inactive atomic.Bool // writes refused (imx_deactivate_sensor)
}

var (
	// lifeMu serialises init and shutdown; instances counts inits.
	lifeMu    sync.Mutex
	instances uint32
	// current is the running instance, nil when not initialised.
	current atomic.Pointer[library]
)

// guard turns a panic into IMX_ERROR. Every export defers it (or guardU32,
// guardBool) first.
func guard(rc *C.imx_result_t) {
	if recover() != nil {
		*rc = rcError
	}
}

func guardU32(n *C.uint32_t) {
	if recover() != nil {
		*n = 0
	}
}

func guardBool(b *C.bool) {
	if recover() != nil {
		*b = false
	}
}

func guardInt(i *C.int) {
	if recover() != nil {
		*i = 0
	}
}

// code maps an mm2 error onto its result code.
func code(err error) C.imx_result_t {
	switch {
	case err == nil:
		return rcOK
	case errors.Is(err, mm2.ErrNoData):
		return rcNoData
	case errors.Is(err, mm2.ErrFull):
		return rcOutOfMemory
	case errors.Is(err, mm2.ErrKindMismatch):
		return rcKindMismatch
	case errors.Is(err, mm2.ErrUnknownStream):
		return rcInvalidEntry
	case errors.Is(err, mm2.ErrInvalidArgument):
		return rcInvalidParam
	case errors.Is(err, mm2.ErrUTCNotAvailable):
		return rcUTCUnavailable
	case errors.Is(err, mm2.ErrPoweringDown):
		return rcPoweringDown
	case errors.Is(err, mm2.ErrClosed):
		return rcNotInitialized
	case errors.Is(err, mm2.ErrDiskFull):
		return rcDiskFull
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return rcTimeout
	}
	// Not a sentinel: a disk error (I/O, CorruptionError) of the disk backend.
	return rcIOError
}

// validSource reports whether src names one of the MaxSources sources.
func validSource(src C.imatrix_upload_source_t) bool {
	return uint64(src) < mm2.MaxSources
}

// lookup resolves (src, csb, csd) to the running instance and the sensor's
// handle entry: the hot path's only "look-up", an index and a comparison.
func lookup(src C.imatrix_upload_source_t, csb *C.imx_control_sensor_block_t,
	csd *C.control_sensor_data_t) (*library, *sensorEnt, C.imx_result_t) {
	l := current.Load()
	if l == nil {
		return nil, nil, rcNotInitialized
	}
	if csb == nil || csd == nil || !validSource(src) {
		return nil, nil, rcInvalidParam
	}
	h := uint32(csd.mm2_handle)
	if uint32(csd.mm2_instance) != l.instance || h == 0 || uint64(h) > uint64(len(l.table)) {
		return nil, nil, rcInvalidEntry
	}
	e := l.table[h-1].Load()
	if e == nil || e.id != (mm2.StreamID{Source: mm2.Source(src), Sensor: uint32(csb.id)}) {
		return nil, nil, rcInvalidEntry
	}
	return l, e, rcOK
}

// handleFor returns the handle of s, issuing one on first use; a stream
// configured again is active again.
func (l *library) handleFor(s *mm2.Stream) uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := s.ID()
	if h, ok := l.byID[id]; ok {
		l.table[h-1].Load().inactive.Store(false)
		return h
	}
	if l.n >= len(l.table) {
		// The manager accepted more streams than its profile's MaxStreams:
		// a broken invariant of the root package.
		panic("capi: stream table larger than the profile's MaxStreams")
	}
	l.table[l.n].Store(&sensorEnt{s: s, id: id})
	l.n++
	h := uint32(l.n)
	l.byID[id] = h
	return h
}
