package inputs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"go.einride.tech/can"
	"go.einride.tech/can/pkg/dbc"
	"go.einride.tech/can/pkg/descriptor"
	"go.einride.tech/can/pkg/socketcan"

	"github.com/mm2go/mm2"
)

// CANConfig is an [[inputs.can]] table: frames from a live SocketCAN
// interface or a candump log, decoded into signals with a DBC file.
type CANConfig struct {
	Name        string   `toml:"name"`
	DBC         string   `toml:"dbc"`
	Interface   string   `toml:"interface"`    // live SocketCAN, e.g. "can0"
	Replay      string   `toml:"replay"`       // candump -l log file
	ReplaySpeed *float64 `toml:"replay_speed"` // 1 = as recorded (default), 2 = twice as fast, 0 = as fast as possible
	ReplayLoop  bool     `toml:"replay_loop"`  // start over at the end of the log
	Source      string   `toml:"source"`       // default can
	SensorBase  int64    `toml:"sensor_base"`  // sensor of the first signal
	Kind        string   `toml:"kind"`         // evt (default) or tsd
	Period      string   `toml:"period"`       // tsd only
	Value       string   `toml:"value"`        // float: physical value (default); int: raw integer
}

type canSignal struct {
	sig *descriptor.Signal
	id  mm2.StreamID
}

type canMessage struct {
	mux     *descriptor.Signal // multiplexer switch, nil when none
	signals []canSignal
	minLen  uint8 // data bytes the signals need
}

// CAN is the CAN input.
type CAN struct {
	name, iface, replay string
	speed               float64
	loop                bool
	value               ValueEncoding
	streams             []Stream
	messages            map[uint32]*canMessage // key: CAN ID, bit 31 set for extended IDs
}

const canExtended = 1 << 31

// replayAhead is how far ahead of its timestamps a replay may run before
// it sleeps.
const replayAhead = 10 * time.Millisecond

// candumpMaxLine bounds a line of a candump log (a CAN FD line is under 200 bytes).
const candumpMaxLine = 4096

// NewCAN validates c, reads the DBC file and returns the input. Signals
// get sensors SensorBase, SensorBase+1, … in the order of the DBC file
// (messages as listed, signals as listed within each).
func NewCAN(c CANConfig) (*CAN, error) {
	in := &CAN{name: c.Name, iface: c.Interface, replay: c.Replay, speed: 1, loop: c.ReplayLoop,
		messages: map[uint32]*canMessage{}}
	switch {
	case c.DBC == "":
		return nil, bad("dbc", "a CAN input needs a DBC file")
	case (c.Interface == "") == (c.Replay == ""):
		return nil, bad("interface", "set exactly one of interface (live SocketCAN) and replay (candump log)")
	case c.Replay != "":
		if _, err := os.Stat(c.Replay); err != nil {
			return nil, bad("replay", "%v", err)
		}
	}
	if c.ReplaySpeed != nil {
		if *c.ReplaySpeed < 0 || *c.ReplaySpeed > 1e6 {
			return nil, bad("replay_speed", "%v: want 0 (as fast as possible) or a factor up to 1e6", *c.ReplaySpeed)
		}
		in.speed = *c.ReplaySpeed
	}
	if in.name == "" {
		in.name = "can " + c.Interface + c.Replay
	}
	src, err := ParseSource(c.Source, mm2.CAN)
	if err != nil {
		return nil, bad("source", "%v", err)
	}
	kind, period, fe := ParseKind(c.Kind, c.Period, mm2.EVT)
	if fe != nil {
		return nil, fe
	}
	if in.value, fe = ParseValue(c.Value); fe != nil {
		return nil, fe
	}
	if c.SensorBase < 0 || c.SensorBase > 1<<32-1 {
		return nil, bad("sensor_base", "%d: want 0 .. 4294967295", c.SensorBase)
	}
	data, err := os.ReadFile(c.DBC)
	if err != nil {
		return nil, bad("dbc", "%v", err)
	}
	p := dbc.NewParser(c.DBC, data)
	if err := p.Parse(); err != nil {
		return nil, bad("dbc", "%v", err)
	}
	next := uint64(c.SensorBase)
	for _, def := range p.Defs() {
		md, ok := def.(*dbc.MessageDef)
		if !ok || md.MessageID == dbc.IndependentSignalsMessageID {
			continue
		}
		key := md.MessageID.ToCAN()
		if md.MessageID.IsExtended() {
			key |= canExtended
		}
		if _, dup := in.messages[key]; dup {
			return nil, bad("dbc", "message %s: CAN ID %d defined twice", md.Name, md.MessageID.ToCAN())
		}
		msg := &canMessage{}
		in.messages[key] = msg
		for _, sd := range md.Signals {
			if next > 1<<32-1 {
				return nil, bad("sensor_base", "%d signals from %d run past sensor 4294967295", len(in.streams)+1, c.SensorBase)
			}
			s := &descriptor.Signal{
				Name: string(sd.Name), Start: uint8(sd.StartBit), Length: uint8(sd.Size),
				IsBigEndian: sd.IsBigEndian, IsSigned: sd.IsSigned,
				IsMultiplexer: sd.IsMultiplexerSwitch, IsMultiplexed: sd.IsMultiplexed,
				MultiplexerValue: uint(sd.MultiplexerSwitch),
				Scale:            sd.Factor, Offset: sd.Offset, Min: sd.Minimum, Max: sd.Maximum, Unit: sd.Unit,
			}
			if s.IsMultiplexer {
				msg.mux = s
			}
			for msg.minLen <= 8 && !fits(s, msg.minLen) {
				msg.minLen++
			}
			if msg.minLen > 8 {
				return nil, bad("dbc", "signal %s.%s does not fit in 8 data bytes", md.Name, sd.Name)
			}
			id := mm2.StreamID{Source: src, Sensor: uint32(next)}
			next++
			msg.signals = append(msg.signals, canSignal{sig: s, id: id})
			in.streams = append(in.streams, Stream{ID: id, Kind: kind, Period: period,
				What: fmt.Sprintf("%s.%s (0x%X) %s", md.Name, sd.Name, md.MessageID.ToCAN(), sd.Unit)})
		}
	}
	if len(in.streams) == 0 {
		return nil, bad("dbc", "%s defines no signal", c.DBC)
	}
	return in, nil
}

// Name implements Input.
func (in *CAN) Name() string { return in.name }

// Streams implements Input.
func (in *CAN) Streams() []Stream { return in.streams }

// Run reads frames until ctx is done (replay: or the log ends, unless it loops).
func (in *CAN) Run(ctx context.Context, sink Sink, log *slog.Logger) error {
	if in.replay != "" {
		for {
			if err := in.replayOnce(ctx, sink); err != nil || !in.loop || ctx.Err() != nil {
				return err
			}
		}
	}
	conn, err := socketcan.DialContext(ctx, "can", in.iface)
	if err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	go func() { <-ctx.Done(); conn.Close() }()
	rx := socketcan.NewReceiver(conn)
	for rx.Receive() {
		if rx.HasErrorFrame() {
			sink.Malformed(fmt.Errorf("can: error frame on %s: %v", in.iface, rx.ErrorFrame()))
			continue
		}
		in.Frame(rx.Frame(), time.Now().UnixMilli(), sink)
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := rx.Err(); err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	return fmt.Errorf("%s: interface closed", in.name)
}

// Frame decodes one frame into its signals' records. A frame of an ID the
// DBC does not define is unmapped; a remote frame or one too short for its
// signals is malformed.
func (in *CAN) Frame(f can.Frame, utcMs int64, sink Sink) {
	key := f.ID
	if f.IsExtended {
		key |= canExtended
	}
	msg := in.messages[key]
	if msg == nil {
		sink.Unmapped()
		return
	}
	if f.IsRemote {
		sink.Malformed(fmt.Errorf("can: remote frame 0x%X", f.ID))
		return
	}
	var mux uint64
	if msg.mux != nil {
		mux = msg.mux.UnmarshalUnsigned(f.Data)
	}
	if f.Length < msg.minLen {
		sink.Malformed(fmt.Errorf("can: frame 0x%X has %d data bytes; its signals need %d", f.ID, f.Length, msg.minLen))
		return
	}
	for _, s := range msg.signals {
		if s.sig.IsMultiplexed && uint64(s.sig.MultiplexerValue) != mux {
			continue
		}
		var v uint32
		var err error
		if in.value == Float {
			v, err = Float.Encode(s.sig.UnmarshalPhysical(f.Data))
		} else if s.sig.IsSigned {
			v, err = Int.EncodeInt(s.sig.UnmarshalSigned(f.Data))
		} else {
			u := s.sig.UnmarshalUnsigned(f.Data)
			if u > 1<<32-1 {
				err = fmt.Errorf("can: signal %s raw value %d does not fit 32 bits", s.sig.Name, u)
			}
			v = uint32(u)
		}
		if err != nil {
			sink.Malformed(fmt.Errorf("can: signal %s: %w", s.sig.Name, err))
			continue
		}
		sink.Record(s.id, v, utcMs)
	}
}

// fits reports whether a signal lies within a frame of n data bytes.
func fits(s *descriptor.Signal, n uint8) bool {
	if s.IsBigEndian {
		return can.CheckBitRangeBigEndian(n, s.Start, s.Length) == nil
	}
	return can.CheckBitRangeLittleEndian(n, s.Start, s.Length) == nil
}

// replayOnce plays the log once, pacing frames by their timestamps.
func (in *CAN) replayOnce(ctx context.Context, sink Sink) error {
	f, err := os.Open(in.replay)
	if err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, candumpMaxLine)
	var first float64
	var start time.Time
	line := 0
	for {
		raw, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			line++
			sink.Malformed(fmt.Errorf("can: %s line %d: longer than %d bytes", in.replay, line, candumpMaxLine))
			for err == bufio.ErrBufferFull {
				_, err = r.ReadSlice('\n')
			}
			continue
		}
		if err != nil && len(raw) == 0 {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("%s: line %d: %w", in.name, line+1, err)
		}
		line++
		if line%256 == 0 && ctx.Err() != nil {
			return nil
		}
		b := bytes.TrimSpace(raw)
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		ts, frame, err := ParseCandump(b)
		if err != nil {
			sink.Malformed(fmt.Errorf("can: %s line %d: %w", in.replay, line, err))
			continue
		}
		if start.IsZero() {
			first, start = ts, time.Now()
		}
		if in.speed > 0 {
			due := start.Add(time.Duration((ts - first) / in.speed * float64(time.Second)))
			// Sleep only when well ahead: frames are often a millisecond
			// apart, and a timer per frame would cost more than decoding.
			if wait := time.Until(due); wait > replayAhead {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
		}
		in.Frame(frame, time.Now().UnixMilli(), sink)
	}
}

// ParseCandump reads one line of candump -l: "(1436509052.249713) can0 123#DEADBEEF"
// (3 hex digits: standard ID, 8: extended; "R" after # for a remote frame).
func ParseCandump(b []byte) (float64, can.Frame, error) {
	var f can.Frame
	bad := func(what string) (float64, can.Frame, error) {
		return 0, f, fmt.Errorf("%s in %s", what, sanitize(b))
	}
	if len(b) < 3 || b[0] != '(' {
		return bad("not a candump -l line")
	}
	end := bytes.IndexByte(b, ')')
	if end < 0 {
		return bad("not a candump -l line")
	}
	ts, err := strconv.ParseFloat(string(b[1:end]), 64)
	if err != nil || ts < 0 {
		return bad("bad timestamp")
	}
	rest := bytes.TrimLeft(b[end+1:], " \t")
	sp := bytes.IndexAny(rest, " \t")
	if sp <= 0 {
		return bad("no interface and frame")
	}
	frame := bytes.TrimSpace(rest[sp:])
	hash := bytes.IndexByte(frame, '#')
	if hash != 3 && hash != 8 {
		return bad("bad frame ID")
	}
	var id uint32
	for _, c := range frame[:hash] {
		v, ok := unhex(c)
		if !ok {
			return bad("bad frame ID")
		}
		id = id<<4 | uint32(v)
	}
	f.ID, f.IsExtended = id, hash == 8
	data := frame[hash+1:]
	if len(data) > 0 && data[0] == 'R' {
		f.IsRemote = true
		if len(data) == 2 && data[1] >= '0' && data[1] <= '8' {
			f.Length = data[1] - '0'
		} else if len(data) != 1 {
			return bad("bad remote frame")
		}
	} else {
		if len(data)%2 != 0 || len(data) > 16 {
			return bad("bad frame data")
		}
		for i := 0; i < len(data); i += 2 {
			hi, ok1 := unhex(data[i])
			lo, ok2 := unhex(data[i+1])
			if !ok1 || !ok2 {
				return bad("bad frame data")
			}
			f.Data[i/2] = hi<<4 | lo
		}
		f.Length = uint8(len(data) / 2)
	}
	if err := f.Validate(); err != nil {
		return bad(err.Error())
	}
	return ts, f, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
