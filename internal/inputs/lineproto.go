package inputs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/mm2go/mm2"
)

// Defaults of LineProtocolConfig.
const (
	DefaultMaxLineBytes   = 64 << 10
	DefaultMaxConnections = 64
	maxDatagram           = 64 << 10
)

// LineProtocolConfig is an [[inputs.line_protocol]] table.
type LineProtocolConfig struct {
	Name           string        `toml:"name"`
	Listen         string        `toml:"listen"`          // udp://host:port, tcp://host:port or unix:///path
	Source         string        `toml:"source"`          // default hosted
	Precision      string        `toml:"precision"`       // of the timestamps: ns (default), us, ms, s
	MaxLineBytes   int           `toml:"max_line_bytes"`  // longer lines are skipped as malformed
	MaxConnections int           `toml:"max_connections"` // TCP and UNIX clients at once
	Map            []LineMapping `toml:"map"`
}

// LineMapping maps one field of one measurement (optionally only points
// carrying the given tags) to a stream.
type LineMapping struct {
	Measurement string            `toml:"measurement"`
	Field       string            `toml:"field"`
	Tags        map[string]string `toml:"tags"`
	Sensor      *int64            `toml:"sensor"`
	Kind        string            `toml:"kind"`   // evt (default) or tsd
	Period      string            `toml:"period"` // tsd only
	Value       string            `toml:"value"`  // float (default) or int
}

type lineMap struct {
	tags  [][2]string
	id    mm2.StreamID
	value ValueEncoding
}

// LineProtocol is the InfluxDB line protocol input.
type LineProtocol struct {
	name, network, addr string
	prec                lineprotocol.Precision
	maxLine, maxConns   int
	streams             []Stream
	byMeasurement       map[string]map[string][]lineMap
	hasTags             map[string]bool
}

// NewLineProtocol validates c and returns the input.
func NewLineProtocol(c LineProtocolConfig) (*LineProtocol, error) {
	in := &LineProtocol{
		name: c.Name, maxLine: c.MaxLineBytes, maxConns: c.MaxConnections,
		byMeasurement: map[string]map[string][]lineMap{}, hasTags: map[string]bool{},
	}
	if in.name == "" {
		in.name = "line_protocol " + c.Listen
	}
	scheme, rest, ok := strings.Cut(c.Listen, "://")
	switch {
	case !ok || rest == "":
		return nil, bad("listen", "%q: want udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH", c.Listen)
	case scheme == "udp" || scheme == "tcp" || scheme == "unix":
		in.network, in.addr = scheme, rest
	default:
		return nil, bad("listen", "scheme %q: want udp, tcp or unix", scheme)
	}
	if in.network != "unix" {
		if _, _, err := net.SplitHostPort(in.addr); err != nil {
			return nil, bad("listen", "%q: %v", c.Listen, err)
		}
	}
	src, err := ParseSource(c.Source, mm2.Hosted)
	if err != nil {
		return nil, bad("source", "%v", err)
	}
	switch c.Precision {
	case "", "ns":
		in.prec = lineprotocol.Nanosecond
	case "us":
		in.prec = lineprotocol.Microsecond
	case "ms":
		in.prec = lineprotocol.Millisecond
	case "s":
		in.prec = lineprotocol.Second
	default:
		return nil, bad("precision", "%q: want ns, us, ms or s", c.Precision)
	}
	if in.maxLine == 0 {
		in.maxLine = DefaultMaxLineBytes
	}
	if in.maxLine < 64 || in.maxLine > 16<<20 {
		return nil, bad("max_line_bytes", "%d: want 64 .. 16777216", in.maxLine)
	}
	if in.maxConns == 0 {
		in.maxConns = DefaultMaxConnections
	}
	if in.maxConns < 1 || in.maxConns > 65536 {
		return nil, bad("max_connections", "%d: want 1 .. 65536", in.maxConns)
	}
	if len(c.Map) == 0 {
		return nil, bad("map", "no [[...map]] entry: nothing would be stored")
	}
	seen := map[string]int{}
	for i, m := range c.Map {
		key := func(k string) string { return fmt.Sprintf("map[%d].%s", i, k) }
		if m.Measurement == "" || m.Field == "" {
			return nil, bad(key("measurement"), "a mapping needs measurement and field")
		}
		if m.Sensor == nil || *m.Sensor < 0 || *m.Sensor > 1<<32-1 {
			return nil, bad(key("sensor"), "a mapping needs a sensor number in 0 .. 4294967295")
		}
		kind, period, fe := ParseKind(m.Kind, m.Period, mm2.EVT)
		if fe != nil {
			return nil, bad(key(fe.Key), "%s", fe.Msg)
		}
		enc, fe := ParseValue(m.Value)
		if fe != nil {
			return nil, bad(key(fe.Key), "%s", fe.Msg)
		}
		lm := lineMap{id: mm2.StreamID{Source: src, Sensor: uint32(*m.Sensor)}, value: enc}
		for k, v := range m.Tags {
			lm.tags = append(lm.tags, [2]string{k, v})
		}
		sig := fmt.Sprintf("%s\x00%s\x00%v", m.Measurement, m.Field, sortedTags(lm.tags))
		if j, dup := seen[sig]; dup {
			return nil, bad(key("field"), "the same measurement, field and tags as map[%d]", j)
		}
		seen[sig] = i
		fields := in.byMeasurement[m.Measurement]
		if fields == nil {
			fields = map[string][]lineMap{}
			in.byMeasurement[m.Measurement] = fields
		}
		fields[m.Field] = append(fields[m.Field], lm)
		if len(lm.tags) > 0 {
			in.hasTags[m.Measurement] = true
		}
		in.streams = append(in.streams, Stream{ID: lm.id, Kind: kind, Period: period,
			What: fmt.Sprintf("%s.%s %v", m.Measurement, m.Field, sortedTags(lm.tags))})
	}
	return in, nil
}

func sortedTags(t [][2]string) []string {
	s := make([]string, len(t))
	for i, kv := range t {
		s[i] = kv[0] + "=" + kv[1]
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// Name implements Input.
func (in *LineProtocol) Name() string { return in.name }

// Streams implements Input.
func (in *LineProtocol) Streams() []Stream { return in.streams }

// Run listens until ctx is done.
func (in *LineProtocol) Run(ctx context.Context, sink Sink, log *slog.Logger) error {
	if in.network == "udp" {
		pc, err := net.ListenPacket("udp", in.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
		go func() { <-ctx.Done(); pc.Close() }()
		p := in.parser(sink)
		buf := make([]byte, maxDatagram)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("%s: %w", in.name, err)
			}
			p.chunk(buf[:n])
		}
	}
	if in.network == "unix" {
		if fi, err := os.Lstat(in.addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(in.addr) // a socket left by a crash
		}
	}
	ln, err := net.Listen(in.network, in.addr)
	if err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	go func() {
		<-ctx.Done()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("%s: %w", in.name, err)
		}
		mu.Lock()
		if len(conns) >= in.maxConns || ctx.Err() != nil {
			mu.Unlock()
			log.Warn("line protocol: too many connections; closing the new one", "input", in.name, "max", in.maxConns)
			c.Close()
			continue
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.serve(c, sink)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
}

// serve reads newline-terminated lines from one stream connection. A line
// longer than maxLine is skipped (counted malformed) up to its newline.
func (in *LineProtocol) serve(c net.Conn, sink Sink) {
	p := in.parser(sink)
	buf := make([]byte, 0, in.maxLine)
	skipping := false
	for {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if skipping {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				buf = buf[:0]
			} else {
				buf = buf[:copy(buf, buf[i+1:])]
				skipping = false
			}
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 && !skipping {
			p.chunk(buf[:i+1])
			buf = buf[:copy(buf, buf[i+1:])]
		}
		if len(buf) == cap(buf) {
			sink.Malformed(fmt.Errorf("line protocol: line longer than %d bytes skipped", in.maxLine))
			buf, skipping = buf[:0], true
		}
		if err != nil {
			if len(buf) > 0 && !skipping {
				p.chunk(buf) // the last line may lack its newline
			}
			return
		}
	}
}

// parser decodes chunks of whole lines; one per connection.
type parser struct {
	in      *LineProtocol
	sink    Sink
	tags    [][2][]byte
	pending []pendingRec
}

type pendingRec struct {
	id    mm2.StreamID
	value uint32
}

func (in *LineProtocol) parser(sink Sink) *parser { return &parser{in: in, sink: sink} }

func (p *parser) chunk(b []byte) {
	dec := lineprotocol.NewDecoderWithBytes(b)
	for dec.Next() {
		if err := p.line(dec); err != nil {
			p.sink.Malformed(err)
		}
	}
}

// line handles one point: every mapped field becomes a record with the
// point's time. A malformed point stores nothing.
func (p *parser) line(dec *lineprotocol.Decoder) error {
	meas, err := dec.Measurement()
	if err != nil {
		return err
	}
	fields := p.in.byMeasurement[string(meas)]
	if fields == nil {
		p.sink.Unmapped()
		return nil
	}
	wantTags := p.in.hasTags[string(meas)]
	p.tags, p.pending = p.tags[:0], p.pending[:0]
	for {
		k, v, err := dec.NextTag()
		if err != nil {
			return err
		}
		if k == nil {
			break
		}
		if wantTags {
			p.tags = append(p.tags, [2][]byte{k, v})
		}
	}
	unmapped := 0
	for {
		k, v, err := dec.NextField()
		if err != nil {
			return err
		}
		if k == nil {
			break
		}
		maps := fields[string(k)]
		matched := false
		for i := range maps {
			m := &maps[i]
			if !p.tagsMatch(m.tags) {
				continue
			}
			matched = true
			var val uint32
			var cerr error
			switch v.Kind() {
			case lineprotocol.Float:
				val, cerr = m.value.Encode(v.FloatV())
			case lineprotocol.Int:
				val, cerr = m.value.EncodeInt(v.IntV())
			case lineprotocol.Uint:
				u := v.UintV()
				if u > 1<<32-1 {
					cerr = fmt.Errorf("value %d is out of range", u)
				} else {
					val, cerr = m.value.EncodeInt(int64(u))
				}
			case lineprotocol.Bool:
				if v.BoolV() {
					val, cerr = m.value.EncodeInt(1)
				} else {
					val, cerr = m.value.EncodeInt(0)
				}
			default:
				cerr = fmt.Errorf("field %s is a %v, not a number", sanitize(k), v.Kind())
			}
			if cerr != nil {
				return fmt.Errorf("measurement %s field %s: %w", sanitize(meas), sanitize(k), cerr)
			}
			p.pending = append(p.pending, pendingRec{id: m.id, value: val})
		}
		if !matched {
			unmapped++
		}
	}
	t, err := dec.Time(p.in.prec, time.Time{})
	if err != nil {
		return err
	}
	ms := t.UnixMilli()
	if t.IsZero() {
		ms = time.Now().UnixMilli()
	}
	for _, r := range p.pending {
		p.sink.Record(r.id, r.value, ms)
	}
	if len(p.pending) == 0 && unmapped > 0 {
		p.sink.Unmapped()
	}
	return nil
}

func (p *parser) tagsMatch(want [][2]string) bool {
	for _, w := range want {
		found := false
		for _, t := range p.tags {
			if string(t[0]) == w[0] && string(t[1]) == w[1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
