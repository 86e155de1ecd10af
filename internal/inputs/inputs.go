// Package inputs are the readers of mm2 run: each turns what it reads (CAN
// frames, gpsd reports, the host's own figures, InfluxDB line protocol) into
// records of configured streams. An input never writes to the store itself:
// it hands (stream, value, time) to a Sink, which the agent implements.
//
// Every input's configuration is a TOML table (see docs/service.md). Check
// validates a configuration without touching the network or the store and
// returns the streams it will write, so that mm2 run --check can refuse a
// config before anything starts.
package inputs

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mm2go/mm2"
)

// Sink receives what an input reads. It is safe for concurrent use.
type Sink interface {
	// Record stores value in stream id; utcMs is the record's time (used by
	// EVT streams; TSD streams are stamped by the store's clock).
	Record(id mm2.StreamID, value uint32, utcMs int64)
	// Malformed counts input that could not be parsed or converted, and
	// logs it (rate-limited). The input skips it and goes on.
	Malformed(err error)
	// Unmapped counts well-formed input that no mapping of the
	// configuration names; it is skipped without a log line.
	Unmapped()
}

// Input is one configured reader.
type Input interface {
	// Name identifies the input in logs and metrics.
	Name() string
	// Streams are the streams the input writes, to configure in the store
	// before Run.
	Streams() []Stream
	// Run reads until ctx is done or the input cannot go on (an error).
	Run(ctx context.Context, sink Sink, log *slog.Logger) error
}

// Stream is one stream an input writes.
type Stream struct {
	ID     mm2.StreamID
	Kind   mm2.Kind
	Period time.Duration // TSD only
	What   string        // what the stream holds, for --check listings
}

// FieldError is a refused configuration value; Key is relative to the
// input's table ("dbc", "map[2].sensor").
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

func bad(key, format string, a ...any) *FieldError {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, a...)}
}

// ParseSource reads a source name (gateway, hosted, ble, can, source4 …
// source7) or number (0..7). "" is def.
func ParseSource(s string, def mm2.Source) (mm2.Source, error) {
	if s == "" {
		return def, nil
	}
	for i := range mm2.MaxSources {
		if src := mm2.Source(i); s == src.String() || s == strconv.Itoa(i) {
			return src, nil
		}
	}
	return 0, fmt.Errorf("source %q: want gateway, hosted, ble, can, source4 … source7 or 0..7", s)
}

// ParseKind reads "evt" or "tsd" with its period. "" is def.
func ParseKind(kind, period string, def mm2.Kind) (mm2.Kind, time.Duration, *FieldError) {
	k := def
	switch kind {
	case "":
	case "evt":
		k = mm2.EVT
	case "tsd":
		k = mm2.TSD
	default:
		return 0, 0, bad("kind", "%q: want \"evt\" or \"tsd\"", kind)
	}
	if k == mm2.EVT {
		if period != "" {
			return 0, 0, bad("period", "EVT streams take no period (their records carry their own time)")
		}
		return k, 0, nil
	}
	d, err := time.ParseDuration(period)
	if err != nil || d < time.Millisecond || d%time.Millisecond != 0 {
		return 0, 0, bad("period", "%q: a TSD stream needs a period of whole milliseconds, e.g. \"100ms\"", period)
	}
	return k, d, nil
}

// ParseDuration reads a Go duration ("500ms", "10s"); "" is def. It must be
// positive.
func ParseDuration(key, s string, def time.Duration) (time.Duration, *FieldError) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad(key, "%q: want a positive duration such as \"500ms\" or \"10s\"", s)
	}
	return d, nil
}

// ValueEncoding says how a number becomes the 32 bits of a record.
type ValueEncoding uint8

const (
	// Float stores math.Float32bits of the value (the default).
	Float ValueEncoding = iota
	// Int stores the value as a 32-bit integer (two's complement for
	// negatives); a value out of int32/uint32 range or with a fraction is
	// malformed.
	Int
)

// ParseValue reads "float" (default) or "int".
func ParseValue(s string) (ValueEncoding, *FieldError) {
	switch s {
	case "", "float":
		return Float, nil
	case "int":
		return Int, nil
	}
	return 0, bad("value", "%q: want \"float\" or \"int\"", s)
}

// Encode turns v into a record value.
func (e ValueEncoding) Encode(v float64) (uint32, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %v is not a finite number", v)
	}
	if e == Float {
		if math.Abs(v) > math.MaxFloat32 {
			return 0, fmt.Errorf("value %v is out of float32 range", v)
		}
		return math.Float32bits(float32(v)), nil
	}
	if v != math.Trunc(v) || v < math.MinInt32 || v > math.MaxUint32 {
		return 0, fmt.Errorf("value %v is not an integer in int32/uint32 range", v)
	}
	if v < 0 {
		return uint32(int32(v)), nil
	}
	return uint32(v), nil
}

// EncodeInt is Encode for integers too large to pass through a float64
// without loss.
func (e ValueEncoding) EncodeInt(v int64) (uint32, error) {
	if e == Float {
		return e.Encode(float64(v))
	}
	if v < math.MinInt32 || v > math.MaxUint32 {
		return 0, fmt.Errorf("value %d is out of int32/uint32 range", v)
	}
	return uint32(v), nil
}

// RateLog logs at most one line per interval, with the count of the lines
// it held back meanwhile.
type RateLog struct {
	Every time.Duration
	mu    sync.Mutex
	last  time.Time
	held  int
}

// Log writes msg unless a line went out less than Every ago.
func (r *RateLog) Log(log *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < r.Every {
		r.held++
		r.mu.Unlock()
		return
	}
	held := r.held
	r.last, r.held = now, 0
	r.mu.Unlock()
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	log.Warn(msg, args...)
}

// sanitize shortens untrusted input for a log line.
func sanitize(b []byte) string {
	const most = 120
	s := strings.ToValidUTF8(string(b[:min(len(b), most)]), "?")
	if len(b) > most {
		s += "…"
	}
	return strconv.Quote(s)
}
