package selftest

import (
	"errors"
	"time"

	"github.com/mm2go/mm2"
)

// The v1 interface of the original memory manager, mapped onto the API the
// way existing iMatrix code calls it: (upload_source, csb, csd, …), a result
// code per call. The C archive (SPEC R-33) exports the same mapping under the
// C names; its header is the authority for the numeric codes, so the harness
// compares the codes by name.

// imxResult is a v1 result code (imx_result_t) by name.
type imxResult string

const (
	imxSuccess       imxResult = "IMX_SUCCESS"
	imxNoData        imxResult = "IMX_NO_DATA"
	imxInvalidEntry  imxResult = "IMX_INVALID_ENTRY"
	imxOutOfMemory   imxResult = "IMX_OUT_OF_MEMORY"
	imxNotReady      imxResult = "IMX_NOT_READY"
	imxNotInitalised imxResult = "IMX_NOT_INITIALIZED"
)

// legacyResult maps an API error onto its v1 result code.
func legacyResult(err error) imxResult {
	switch {
	case err == nil:
		return imxSuccess
	case errors.Is(err, mm2.ErrNoData):
		return imxNoData
	case errors.Is(err, mm2.ErrFull):
		return imxOutOfMemory
	case errors.Is(err, mm2.ErrUTCNotAvailable), errors.Is(err, mm2.ErrPoweringDown):
		return imxNotReady
	case errors.Is(err, mm2.ErrClosed):
		return imxNotInitalised
	}
	return imxInvalidEntry
}

// controlSensorBlock is the v1 csb: the sensor's id and sample rate in ms
// (0 = event data).
type controlSensorBlock struct {
	id         uint32
	sampleRate uint32
}

// controlSensorData is the v1 csd: the per-sensor handle, here one per
// upload source, so a handle can never be used under another source.
type controlSensorData struct {
	handles [mm2.MaxSources]*mm2.Stream
}

// legacy is the v1 call surface over one manager.
type legacy struct {
	m     *mm2.Manager
	now   func() int64 // the manager's clock, for events written without a time
	calls int
}

// imxSatInit is imx_sat_init: the manager ready for writes.
func imxSatInit(e *Env) (*legacy, imxResult) {
	m := e.Open(nil)
	return &legacy{m: m, now: e.Now}, imxSuccess
}

// stream resolves (upload_source, csb) to its stream, configuring it on the
// first write.
func (l *legacy) stream(src mm2.Source, csb controlSensorBlock, csd *controlSensorData, create bool) (*mm2.Stream, error) {
	if src >= mm2.MaxSources {
		return nil, mm2.ErrInvalidArgument
	}
	if h := csd.handles[src]; h != nil {
		return h, nil
	}
	id := mm2.StreamID{Source: src, Sensor: csb.id}
	var s *mm2.Stream
	var err error
	switch {
	case !create:
		s, err = l.m.Stream(id)
	case csb.sampleRate == 0:
		s, err = l.m.Configure(id, mm2.EVT, 0)
	default:
		s, err = l.m.Configure(id, mm2.TSD, time.Duration(csb.sampleRate)*time.Millisecond)
	}
	if err == nil {
		csd.handles[src] = s
	}
	return s, err
}

// writeTsdEvt is write_tsd_evt: a sample (TSD) or an event stamped now (EVT),
// with the source's GPS fix when addGPS is set.
func (l *legacy) writeTsdEvt(src mm2.Source, csb controlSensorBlock, csd *controlSensorData, value uint32, addGPS bool, fix mm2.GPSFix) imxResult {
	l.calls++
	s, err := l.stream(src, csb, csd, true)
	if err != nil {
		return legacyResult(err)
	}
	if (csb.sampleRate == 0) != (s.Kind() == mm2.EVT) {
		return legacyResult(mm2.ErrKindMismatch)
	}
	switch {
	case s.Kind() == mm2.TSD:
		err = s.WriteTSD(value)
	case addGPS:
		err = s.WriteEventWithGPS(value, fix)
	default:
		err = s.WriteEVT(value, l.now())
	}
	return legacyResult(err)
}

// writeTsdEvtTime is write_tsd_evt_time: an event with its own timestamp.
func (l *legacy) writeTsdEvtTime(src mm2.Source, csb controlSensorBlock, csd *controlSensorData, value uint32, utcMs int64) imxResult {
	l.calls++
	s, err := l.stream(src, csb, csd, true)
	if err != nil {
		return legacyResult(err)
	}
	return legacyResult(s.WriteEVT(value, utcMs))
}

// readTsdEvt is read_tsd_evt: the next record, marked pending.
func (l *legacy) readTsdEvt(src mm2.Source, csb controlSensorBlock, csd *controlSensorData) (mm2.Sample, imxResult) {
	l.calls++
	s, err := l.stream(src, csb, csd, false)
	if err != nil {
		return mm2.Sample{}, legacyResult(err)
	}
	smp, err := s.Read()
	return smp, legacyResult(err)
}

// eraseTsdEvt is erase_tsd_evt: erase everything pending (ACK).
func (l *legacy) eraseTsdEvt(src mm2.Source, csb controlSensorBlock, csd *controlSensorData) imxResult {
	l.calls++
	s, err := l.stream(src, csb, csd, false)
	if err != nil {
		return legacyResult(err)
	}
	_, err = s.Ack()
	return legacyResult(err)
}

// revertTsdEvtPendingData is revert_tsd_evt_pending_data: everything pending
// becomes unread again (NACK).
func (l *legacy) revertTsdEvtPendingData(src mm2.Source, csb controlSensorBlock, csd *controlSensorData) imxResult {
	l.calls++
	s, err := l.stream(src, csb, csd, false)
	if err != nil {
		return legacyResult(err)
	}
	_, err = s.Nack()
	return legacyResult(err)
}
