// Package sink is the cloud side of mm2: it decodes uplink payloads into
// JSON lines (mm2 decode) and, subscribed to a broker, drops duplicates by
// (stream, sequence number), tracks gaps per stream and writes each record
// once (mm2 sink).
package sink

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mm2go/mm2/uplink"
)

// Record is one JSON line of mm2 decode and mm2 sink.
type Record struct {
	Stream string  `json:"stream"` // [device/]source/sensor
	Seq    uint64  `json:"seq"`
	Time   string  `json:"time"` // RFC 3339, UTC, milliseconds
	Value  float64 `json:"value"`
	Kind   string  `json:"kind"` // tsd or evt
}

// Values says how the 32 bits of a record are written.
type Values uint8

const (
	// Raw writes the bits as an unsigned integer.
	Raw Values = iota
	// Float writes them as the float32 they encode (inputs store floats so
	// by default).
	Float
	// Signed writes them as a two's complement int32.
	Signed
)

// ParseValues reads raw, float or int.
func ParseValues(s string) (Values, error) {
	switch s {
	case "raw":
		return Raw, nil
	case "float":
		return Float, nil
	case "int":
		return Signed, nil
	}
	return 0, fmt.Errorf("values %q: want raw, float or int", s)
}

func (v Values) of(bits uint32) float64 {
	switch v {
	case Float:
		return float64(math.Float32frombits(bits))
	case Signed:
		return float64(int32(bits))
	}
	return float64(bits)
}

// StreamName is device/source/sensor, or source/sensor without a device.
func StreamName(device string, b *uplink.Batch, run int) string {
	s := b.Source.String() + "/" + strconv.FormatUint(uint64(b.Runs[run].Sensor), 10)
	if device != "" {
		return device + "/" + s
	}
	return s
}

// AppendJSON appends r as one JSON line. Non-finite floats (a NaN stored as
// float bits) are written as null.
func AppendJSON(dst []byte, r *Record) []byte {
	dst = append(dst, `{"stream":`...)
	dst = strconv.AppendQuote(dst, r.Stream)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = append(dst, r.Time...)
	dst = append(dst, `","value":`...)
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		dst = append(dst, "null"...)
	} else if r.Value == math.Trunc(r.Value) && math.Abs(r.Value) < 1e15 {
		dst = strconv.AppendFloat(dst, r.Value, 'f', -1, 64) // integers in full, not 1.1e+09
	} else {
		dst = strconv.AppendFloat(dst, r.Value, 'g', -1, 64)
	}
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, r.Kind...)
	return append(dst, "\"}\n"...)
}

// FormatTime is the time of a record: RFC 3339 UTC with milliseconds.
func FormatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// Each calls f for every record of b, in the payload's order.
func Each(device string, b *uplink.Batch, values Values, f func(r *Record, run int)) {
	var r Record
	for i := range b.Runs {
		run := &b.Runs[i]
		r.Stream = StreamName(device, b, i)
		r.Kind = run.Kind.String()
		for _, s := range run.Samples {
			r.Seq, r.Time, r.Value = s.Seq, FormatTime(s.UTCms), values.of(s.Value)
			f(&r, i)
		}
	}
}

// DeviceOf is the device segment of a payload topic
// <prefix…>/<device>/<source>: the segment before the last.
func DeviceOf(topic string) string {
	parts := strings.Split(topic, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2]
}

// ParseRecord reads one JSON line back (for tests and tools).
func ParseRecord(line []byte) (Record, error) {
	var r Record
	err := json.Unmarshal(line, &r)
	return r, err
}
