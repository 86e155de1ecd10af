// Command capi is the C archive of mm2: the iMatrix Memory Manager v2 for
// C firmware. Build it with
//
//	go build -buildmode=c-archive -o libmm2.a ./capi
//
// The archive exports only the neutral core ABI of capi/mm2_core.h
// (mm2_core_*: fixed-width types, no firmware type). The firmware compiles
// the legacy layer in capi/legacy/ (mm2_api.h, mm2_api.c, mm2_v1.c) with its
// own common.h; that layer knows the firmware's csb/csd layouts and result
// enumerators and calls the core. docs/legacy.md is the porting guide.
//
// The archive keeps one library instance in package state (a C library has
// nowhere else to keep it): an mm2.Manager and a table of stream handles.
// mm2_core_configure returns a reference (instance number and table index),
// which the legacy layer keeps in csd->mmcb, so the hot path indexes the
// table instead of looking the sensor up, and no Go pointer reaches C.
// Every C structure is read and written field by field, so nothing depends
// on Go and C laying out a structure alike (they differ on 32-bit ARM).
// Every export recovers from panics and returns MM2_CORE_ERROR, so nothing
// unwinds across the C boundary.
package main

/*
#include "mm2_core.h"
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
	rcOK             = C.mm2_core_rc_t(C.MM2_CORE_OK)
	rcError          = C.mm2_core_rc_t(C.MM2_CORE_ERROR)
	rcOutOfMemory    = C.mm2_core_rc_t(C.MM2_CORE_OUT_OF_MEMORY)
	rcInvalidParam   = C.mm2_core_rc_t(C.MM2_CORE_INVALID_PARAMETER)
	rcInvalidEntry   = C.mm2_core_rc_t(C.MM2_CORE_INVALID_ENTRY)
	rcInactive       = C.mm2_core_rc_t(C.MM2_CORE_INACTIVE)
	rcTimeout        = C.mm2_core_rc_t(C.MM2_CORE_TIMEOUT)
	rcNoData         = C.mm2_core_rc_t(C.MM2_CORE_NO_DATA)
	rcInitError      = C.mm2_core_rc_t(C.MM2_CORE_INIT_ERROR)
	rcNotInitialized = C.mm2_core_rc_t(C.MM2_CORE_NOT_INITIALIZED)
	rcKindMismatch   = C.mm2_core_rc_t(C.MM2_CORE_KIND_MISMATCH)
	rcUTCUnavailable = C.mm2_core_rc_t(C.MM2_CORE_UTC_NOT_AVAILABLE)
	rcPoweringDown   = C.mm2_core_rc_t(C.MM2_CORE_POWERING_DOWN)
	rcInvalidState   = C.mm2_core_rc_t(C.MM2_CORE_INVALID_STATE)
	rcNoBackend      = C.mm2_core_rc_t(C.MM2_CORE_BACKEND_UNAVAILABLE)
	rcDiskFull       = C.mm2_core_rc_t(C.MM2_CORE_DISK_FULL)
	rcCorrupted      = C.mm2_core_rc_t(C.MM2_CORE_CORRUPTED)
	rcIOError        = C.mm2_core_rc_t(C.MM2_CORE_IO_ERROR)
)

// library is one initialised instance: from mm2_core_init to mm2_core_close.
type library struct {
	m        *mm2.Manager
	instance uint32 // never 0, so a zero reference is never valid

	mu    sync.Mutex                  // guards byID and n; table stores happen under it
	byID  map[mm2.StreamID]uint32     // handle (table index + 1) of each configured stream
	n     int                         // handles issued
	table []atomic.Pointer[sensorEnt] // fixed at MaxStreams: never reallocated, read without mu

	gps [mm2.MaxSources]atomic.Pointer[gpsConf]

	// downClean: a power-down finished and nothing was acknowledged or
	// reverted since, so another power-down has nothing to do (the firmware
	// calls the per-sensor shutdown once per sensor).
	downClean atomic.Bool
}

// sensorEnt is one handle's stream.
type sensorEnt struct {
	s        *mm2.Stream
	id       mm2.StreamID
	rate     uint32      // sample_rate as configured (0 = EVT)
	inactive atomic.Bool // writes and reads refused (mm2_core_set_active 0)
}

// gpsConf is a source's GPS sensors: ents[i] is nil where bit i of mask is clear.
type gpsConf struct {
	mask uint32
	ents [4]*sensorEnt
}

var (
	// lifeMu serialises init and close; instances counts inits.
	lifeMu    sync.Mutex
	instances uint32
	// current is the running instance, nil when not initialised.
	current atomic.Pointer[library]
)

// guard turns a panic into MM2_CORE_ERROR. Every export defers it (or
// guardInt) first.
func guard(rc *C.mm2_core_rc_t) {
	if recover() != nil {
		*rc = rcError
	}
}

func guardInt(i *C.int32_t) {
	if recover() != nil {
		*i = 0
	}
}

// code maps an mm2 error onto its result code.
func code(err error) C.mm2_core_rc_t {
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

// running returns the running instance or MM2_CORE_NOT_INITIALIZED.
func running() (*library, C.mm2_core_rc_t) {
	l := current.Load()
	if l == nil {
		return nil, rcNotInitialized
	}
	return l, rcOK
}

// ref packs a handle for C: the instance in the high 32 bits.
func (l *library) ref(h uint32) C.mm2_ref_t {
	return C.mm2_ref_t(uint64(l.instance)<<32 | uint64(h))
}

// lookup resolves (ref, source, id) to the running instance and the
// sensor's entry: the hot path's only "look-up", an index and a comparison.
func lookup(ref C.mm2_ref_t, src, id C.uint32_t) (*library, *sensorEnt, C.mm2_core_rc_t) {
	l := current.Load()
	if l == nil {
		return nil, nil, rcNotInitialized
	}
	e, rc := l.resolve(ref, src, id)
	if rc != rcOK {
		return nil, nil, rc
	}
	return l, e, rcOK
}

// resolve is lookup in the instance l.
func (l *library) resolve(ref C.mm2_ref_t, src, id C.uint32_t) (*sensorEnt, C.mm2_core_rc_t) {
	if uint64(src) >= mm2.MaxSources {
		return nil, rcInvalidParam
	}
	h := uint32(ref)
	if uint32(uint64(ref)>>32) != l.instance || h == 0 || uint64(h) > uint64(len(l.table)) {
		return nil, rcInvalidEntry
	}
	e := l.table[h-1].Load()
	if e == nil || e.id != (mm2.StreamID{Source: mm2.Source(src), Sensor: uint32(id)}) {
		return nil, rcInvalidEntry
	}
	return e, rcOK
}

// active is lookup for the calls a deactivated sensor refuses.
func active(ref C.mm2_ref_t, src, id C.uint32_t) (*library, *sensorEnt, C.mm2_core_rc_t) {
	l, e, rc := lookup(ref, src, id)
	if rc == rcOK && e.inactive.Load() {
		return nil, nil, rcInactive
	}
	return l, e, rc
}

// handleFor returns the handle of s, issuing one on first use; a stream
// configured again is active again.
func (l *library) handleFor(s *mm2.Stream, rate uint32) uint32 {
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
	l.table[l.n].Store(&sensorEnt{s: s, id: id, rate: rate})
	l.n++
	h := uint32(l.n)
	l.byID[id] = h
	return h
}

// entry returns the entry of a configured stream, nil if there is none.
func (l *library) entry(id mm2.StreamID) *sensorEnt {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.byID[id]; ok {
		return l.table[h-1].Load()
	}
	return nil
}
