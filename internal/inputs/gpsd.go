package inputs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/mm2go/mm2"
)

// gpsdMaxLine bounds one report of gpsd (its own limit is about 10 KB).
const gpsdMaxLine = 64 << 10

// GPSDConfig is an [[inputs.gpsd]] table: fixes from gpsd's JSON protocol.
type GPSDConfig struct {
	Name      string `toml:"name"`
	Address   string `toml:"address"` // host:port of gpsd; default 127.0.0.1:2947
	Source    string `toml:"source"`  // default gateway
	Latitude  *int64 `toml:"latitude"`
	Longitude *int64 `toml:"longitude"`
	Altitude  *int64 `toml:"altitude"`
	Speed     *int64 `toml:"speed"` // m/s
}

// GPSD is the gpsd input: each TPV report with a 2D or 3D fix writes its
// latitude, longitude (degrees), altitude (m) and speed (m/s) as float
// events stamped with the fix's time, to the sensors configured.
type GPSD struct {
	name, addr string
	streams    []Stream
	ids        [4]*mm2.StreamID // latitude, longitude, altitude, speed
}

// NewGPSD validates c and returns the input.
func NewGPSD(c GPSDConfig) (*GPSD, error) {
	in := &GPSD{name: c.Name, addr: c.Address}
	if in.addr == "" {
		in.addr = "127.0.0.1:2947"
	}
	if _, _, err := net.SplitHostPort(in.addr); err != nil {
		return nil, bad("address", "%q: %v", c.Address, err)
	}
	if in.name == "" {
		in.name = "gpsd " + in.addr
	}
	src, err := ParseSource(c.Source, mm2.Gateway)
	if err != nil {
		return nil, bad("source", "%v", err)
	}
	keys := [4]string{"latitude", "longitude", "altitude", "speed"}
	seen := map[int64]string{}
	for i, p := range [4]*int64{c.Latitude, c.Longitude, c.Altitude, c.Speed} {
		if p == nil {
			continue
		}
		if *p < 0 || *p > 1<<32-1 {
			return nil, bad(keys[i], "sensor %d: want 0 .. 4294967295", *p)
		}
		if other, dup := seen[*p]; dup {
			return nil, bad(keys[i], "sensor %d is also %s", *p, other)
		}
		seen[*p] = keys[i]
		id := mm2.StreamID{Source: src, Sensor: uint32(*p)}
		in.ids[i] = &id
		in.streams = append(in.streams, Stream{ID: id, Kind: mm2.EVT, What: "gps " + keys[i]})
	}
	if len(in.streams) == 0 {
		return nil, bad("latitude", "name the sensor of at least one of latitude, longitude, altitude, speed")
	}
	return in, nil
}

// Name implements Input.
func (in *GPSD) Name() string { return in.name }

// Streams implements Input.
func (in *GPSD) Streams() []Stream { return in.streams }

// tpv is the part of a gpsd report this input reads.
type tpv struct {
	Class  string   `json:"class"`
	Mode   int      `json:"mode"`
	Time   string   `json:"time"`
	Lat    *float64 `json:"lat"`
	Lon    *float64 `json:"lon"`
	Alt    *float64 `json:"alt"`
	AltHAE *float64 `json:"altHAE"`
	Speed  *float64 `json:"speed"`
}

// Run connects, asks gpsd to watch in JSON and reads reports until ctx is
// done or the connection ends (an error: the agent reconnects).
func (in *GPSD) Run(ctx context.Context, sink Sink, log *slog.Logger) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", in.addr)
	if err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	go func() { <-ctx.Done(); conn.Close() }()
	defer conn.Close()
	if _, err := conn.Write([]byte(`?WATCH={"enable":true,"json":true};` + "\n")); err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	log.Info("gpsd: connected", "input", in.name)
	r := bufio.NewReaderSize(conn, gpsdMaxLine)
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			sink.Malformed(fmt.Errorf("gpsd: report longer than %d bytes skipped", gpsdMaxLine))
			for err == bufio.ErrBufferFull {
				_, err = r.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: %w", in.name, err)
		}
		in.Report(line, sink)
	}
}

// Report handles one JSON report: TPV with a fix is recorded, other
// classes are ignored, a broken report is malformed.
func (in *GPSD) Report(line []byte, sink Sink) {
	var r tpv
	if err := json.Unmarshal(line, &r); err != nil {
		sink.Malformed(fmt.Errorf("gpsd: %v in %s", err, sanitize(line)))
		return
	}
	if r.Class != "TPV" || r.Mode < 2 {
		return
	}
	t := time.Now() // a fix without a time (gpsd's first report) is stamped on arrival
	if r.Time != "" {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, r.Time); err != nil {
			sink.Malformed(fmt.Errorf("gpsd: TPV time %s", sanitize([]byte(r.Time))))
			return
		}
	}
	alt := r.Alt
	if alt == nil {
		alt = r.AltHAE
	}
	if r.Mode < 3 {
		alt = nil // a 2D fix has no altitude worth storing
	}
	for i, v := range [4]*float64{r.Lat, r.Lon, alt, r.Speed} {
		if v == nil || in.ids[i] == nil {
			continue
		}
		bits, err := Float.Encode(*v)
		if err != nil {
			sink.Malformed(fmt.Errorf("gpsd: %w", err))
			continue
		}
		sink.Record(*in.ids[i], bits, t.UnixMilli())
	}
}
