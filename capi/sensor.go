package main

/*
#include "mm2_core.h"
*/
import "C"

import (
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/mm2go/mm2"
)

// chunk is how many records one ReadBulk/PeekBulk moves through the
// pooled buffer before they are copied, field by field, to C.
const chunk = 512

var samplePool = sync.Pool{New: func() any {
	b := make([]mm2.Sample, chunk)
	return &b
}}

//export mm2_core_configure
func mm2_core_configure(src, id, rate C.uint32_t, ref *C.mm2_ref_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	if ref == nil || uint64(src) >= mm2.MaxSources {
		return rcInvalidParam
	}
	kind, period := mm2.EVT, time.Duration(0)
	if rate != 0 {
		kind, period = mm2.TSD, time.Duration(rate)*time.Millisecond
	}
	s, err := l.m.Configure(mm2.StreamID{Source: mm2.Source(src), Sensor: uint32(id)}, kind, period)
	if err != nil {
		return code(err)
	}
	*ref = l.ref(l.handleFor(s, uint32(rate)))
	return rcOK
}

//export mm2_core_set_active
func mm2_core_set_active(ref C.mm2_ref_t, src, id C.uint32_t, on C.int32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	_, e, rc := lookup(ref, src, id)
	if rc == rcOK {
		e.inactive.Store(on == 0)
	}
	return rc
}

//export mm2_core_sensor_info
func mm2_core_sensor_info(ref C.mm2_ref_t, src, id C.uint32_t, detail C.int32_t,
	out *C.mm2_core_counts_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	_, e, rc := lookup(ref, src, id)
	if rc != rcOK || out == nil {
		return rc
	}
	var o C.mm2_core_counts_t
	if !e.inactive.Load() {
		o.active = 1
	}
	o.sample_rate = C.uint32_t(e.rate)
	if detail == 0 {
		c := e.s.Counts()
		o.new_count = C.uint32_t(c.New)
		o.pending_count = C.uint32_t(c.Pending)
		o.total_count = C.uint32_t(c.Total)
		*out = o
		return rcOK
	}
	st := e.s.Stats()
	o.new_count = C.uint32_t(st.Counts.New)
	o.pending_count = C.uint32_t(st.Counts.Pending)
	o.total_count = C.uint32_t(st.Counts.Total)
	o.ram_sectors = C.uint32_t(st.SectorsRAM)
	o.acked_sequence = C.uint64_t(st.Acked)
	o.written_sequence = C.uint64_t(st.Written)
	if st.HasUnacked {
		o.oldest_unacked_ms = C.uint64_t(st.OldestUnackedMs)
	}
	*out = o
	return rcOK
}

//export mm2_core_write_tsd
func mm2_core_write_tsd(ref C.mm2_ref_t, src, id, value C.uint32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	_, e, rc := active(ref, src, id)
	if rc != rcOK {
		return rc
	}
	return code(e.s.WriteTSD(uint32(value)))
}

//export mm2_core_write_evt
func mm2_core_write_evt(ref C.mm2_ref_t, src, id, value C.uint32_t, utcMs C.uint64_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	_, e, rc := active(ref, src, id)
	if rc != rcOK {
		return rc
	}
	if uint64(utcMs) > math.MaxInt64 {
		return rcInvalidParam
	}
	return code(e.s.WriteEVT(uint32(value), int64(utcMs)))
}

// batchKeep bounds the pooled batch buffers: a larger batch's buffer is
// left to the garbage collector.
const batchKeep = 4096

var batchPool = sync.Pool{New: func() any {
	b := make([]mm2.Write, 0, chunk)
	return &b
}}

//export mm2_core_write_batch
func mm2_core_write_batch(w *C.mm2_core_write_t, n C.uint32_t, stored *C.uint32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	if stored != nil {
		*stored = 0
	}
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	if stored == nil || (w == nil && n != 0) ||
		uint64(n) > uint64(math.MaxInt)/uint64(unsafe.Sizeof(C.mm2_core_write_t{})) {
		return rcInvalidParam
	}
	var in []C.mm2_core_write_t
	if n != 0 {
		in = unsafe.Slice(w, int(n))
	}
	bp := batchPool.Get().(*[]mm2.Write)
	ws := (*bp)[:0]
	defer func() {
		clear(ws) // no stream kept alive by the pool
		if cap(ws) <= batchKeep {
			*bp = ws[:0]
			batchPool.Put(bp)
		}
	}()
	// Every sample is resolved against the one instance l before anything
	// is stored: a bad one refuses the whole batch.
	for i := range in {
		c := &in[i]
		e, rc := l.resolve(c.ref, c.source, c.id)
		if rc != rcOK {
			return rc
		}
		if e.inactive.Load() {
			return rcInactive
		}
		if uint64(c.utc_ms) > math.MaxInt64 {
			return rcInvalidParam
		}
		ws = append(ws, mm2.Write{Stream: e.s, Value: uint32(c.value), UTCms: int64(c.utc_ms)})
	}
	k, err := l.m.WriteBatch(ws)
	*stored = C.uint32_t(k)
	return code(err)
}

//export mm2_core_set_gps
func mm2_core_set_gps(src, mask, lat, lon, alt, speed C.uint32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	if uint64(src) >= mm2.MaxSources || mask > 0xF {
		return rcInvalidParam
	}
	ids := [4]uint32{uint32(lat), uint32(lon), uint32(alt), uint32(speed)}
	conf := &gpsConf{mask: uint32(mask)}
	for i, id := range ids {
		if mask&(1<<i) == 0 {
			continue
		}
		for j := range i {
			if mask&(1<<j) != 0 && ids[j] == id {
				return rcInvalidParam
			}
		}
		e := l.entry(mm2.StreamID{Source: mm2.Source(src), Sensor: id})
		if e == nil {
			return rcInvalidEntry
		}
		if e.s.Kind() != mm2.EVT {
			return rcKindMismatch
		}
		conf.ents[i] = e
	}
	if mask == 0xF {
		// All four: the manager writes event and position as one.
		cfg := mm2.GPSConfig{Latitude: ids[0], Longitude: ids[1], Altitude: ids[2], Speed: ids[3]}
		if err := l.m.SetGPS(mm2.Source(src), cfg); err != nil {
			return code(err)
		}
	}
	if mask == 0 {
		conf = nil
	}
	l.gps[src].Store(conf)
	return rcOK
}

// writePosition writes, after the event ev (none when nil), the configured
// position values at t, all in one batch: one lock, and under SyncAlways
// one sync. The first error ends it; what was written before it stays.
func writePosition(l *library, g *gpsConf, ev *mm2.Write, t int64, fix [4]float32) C.mm2_core_rc_t {
	var buf [5]mm2.Write
	ws := buf[:0]
	if ev != nil {
		ws = append(ws, *ev)
	}
	for i, e := range g.ents {
		if e != nil {
			ws = append(ws, mm2.Write{Stream: e.s, Value: math.Float32bits(fix[i]), UTCms: t})
		}
	}
	_, err := l.m.WriteBatch(ws)
	return code(err)
}

//export mm2_core_write_evt_gps
func mm2_core_write_evt_gps(ref C.mm2_ref_t, src, id, value C.uint32_t, lat, lon, alt, speed C.float) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, e, rc := active(ref, src, id)
	if rc != rcOK {
		return rc
	}
	g := l.gps[src].Load()
	if g != nil && g.mask == 0xF {
		fix := mm2.GPSFix{Latitude: float32(lat), Longitude: float32(lon), Altitude: float32(alt), Speed: float32(speed)}
		return code(e.s.WriteEventWithGPS(uint32(value), fix))
	}
	t := time.Now().UnixMilli()
	if g == nil || e.s.Kind() != mm2.EVT {
		// A batch would store a TSD sensor's sample: WriteEVT refuses it
		// (KIND_MISMATCH, or what the manager's state refuses first).
		return code(e.s.WriteEVT(uint32(value), t))
	}
	ev := mm2.Write{Stream: e.s, Value: uint32(value), UTCms: t}
	return writePosition(l, g, &ev, t, [4]float32{float32(lat), float32(lon), float32(alt), float32(speed)})
}

//export mm2_core_write_gps
func mm2_core_write_gps(src C.uint32_t, utcMs C.uint64_t, lat, lon, alt, speed C.float) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	l, rc := running()
	if rc != rcOK {
		return rc
	}
	if uint64(src) >= mm2.MaxSources || uint64(utcMs) > math.MaxInt64 {
		return rcInvalidParam
	}
	g := l.gps[src].Load()
	if g == nil {
		return rcNoData
	}
	for _, e := range g.ents {
		if e != nil && e.inactive.Load() {
			return rcInactive
		}
	}
	t := int64(utcMs)
	if t == 0 {
		t = time.Now().UnixMilli()
	}
	return writePosition(l, g, nil, t, [4]float32{float32(lat), float32(lon), float32(alt), float32(speed)})
}

// copyOut copies samples to the C arrays at offset off.
func copyOut(src []mm2.Sample, dst []C.mm2_core_sample_t, seqs []C.uint64_t, off int) {
	for i, s := range src {
		d := &dst[off+i]
		d.value = C.uint32_t(s.Value)
		d.timestamp = C.uint64_t(s.UTCms)
		if seqs != nil {
			seqs[off+i] = C.uint64_t(s.Seq)
		}
	}
}

// cArrays views the caller's arrays of n records (seqs nil when sequences is).
func cArrays(samples *C.mm2_core_sample_t, sequences *C.uint64_t, n int) ([]C.mm2_core_sample_t, []C.uint64_t) {
	var seqs []C.uint64_t
	if sequences != nil {
		seqs = unsafe.Slice(sequences, n)
	}
	return unsafe.Slice(samples, n), seqs
}

//export mm2_core_read
func mm2_core_read(ref C.mm2_ref_t, src, id C.uint32_t, samples *C.mm2_core_sample_t,
	sequences *C.uint64_t, n C.uint32_t, filled *C.uint32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	if filled != nil {
		*filled = 0
	}
	_, e, rc := active(ref, src, id)
	if rc != rcOK {
		return rc
	}
	if samples == nil || filled == nil {
		return rcInvalidParam
	}
	if n == 0 {
		return rcNoData
	}
	dst, seqs := cArrays(samples, sequences, int(n))
	bp := samplePool.Get().(*[]mm2.Sample)
	defer samplePool.Put(bp)
	got := 0
	for got < len(dst) {
		buf := (*bp)[:min(len(dst)-got, chunk)]
		k, err := e.s.ReadBulk(buf)
		if err != nil {
			if got == 0 {
				return code(err)
			}
			break // what was read is pending: deliver it; the error recurs on the next read
		}
		copyOut(buf[:k], dst, seqs, got)
		got += k
		if k < len(buf) {
			break
		}
	}
	*filled = C.uint32_t(got)
	return rcOK
}

//export mm2_core_peek
func mm2_core_peek(ref C.mm2_ref_t, src, id, start C.uint32_t, samples *C.mm2_core_sample_t,
	sequences *C.uint64_t, n C.uint32_t, filled *C.uint32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	if filled != nil {
		*filled = 0
	}
	_, e, rc := active(ref, src, id)
	if rc != rcOK {
		return rc
	}
	if samples == nil || filled == nil {
		return rcInvalidParam
	}
	unread := uint64(e.s.Counts().New)
	if n == 0 || uint64(start) >= unread {
		return rcNoData
	}
	want := min(uint64(start)+uint64(n), unread)
	bp := samplePool.Get().(*[]mm2.Sample)
	defer samplePool.Put(bp)
	buf := *bp
	if want > uint64(len(buf)) {
		buf = make([]mm2.Sample, want)
	}
	k, err := e.s.PeekBulk(buf[:want])
	if err != nil {
		return code(err)
	}
	if uint64(k) <= uint64(start) {
		return rcNoData // acknowledged by another thread in between
	}
	out := buf[start:k]
	dst, seqs := cArrays(samples, sequences, len(out))
	copyOut(out, dst, seqs, 0)
	*filled = C.uint32_t(len(out))
	return rcOK
}

//export mm2_core_ack
func mm2_core_ack(ref C.mm2_ref_t, src, id C.uint32_t, count *C.uint32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	return settle(ref, src, id, count, (*mm2.Stream).Ack)
}

//export mm2_core_nack
func mm2_core_nack(ref C.mm2_ref_t, src, id C.uint32_t, count *C.uint32_t) (rc C.mm2_core_rc_t) {
	defer guard(&rc)
	return settle(ref, src, id, count, (*mm2.Stream).Nack)
}

// settle acknowledges or reverts the sensor's pending records (op is
// Stream.Ack or Stream.Nack) and reports how many.
func settle(ref C.mm2_ref_t, src, id C.uint32_t, count *C.uint32_t, op func(*mm2.Stream) (int, error)) C.mm2_core_rc_t {
	if count != nil {
		*count = 0
	}
	l, e, rc := lookup(ref, src, id)
	if rc != rcOK {
		return rc
	}
	k, err := op(e.s)
	if err != nil {
		return code(err)
	}
	l.downClean.Store(false)
	if count != nil {
		*count = C.uint32_t(k)
	}
	return rcOK
}
