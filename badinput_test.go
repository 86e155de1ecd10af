package mm2_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// badFixture is a manager with state worth protecting: streams of both
// kinds on several sources, GPS sensors, unread and pending records.
type badFixture struct {
	m              *mm2.Manager
	clk            *testClock
	tsd, evt, gps  *mm2.Stream
	empty          *mm2.Stream // configured, never written
	unread         *mm2.Stream // unread records, nothing pending
	tsdID, unknown mm2.StreamID
}

// badMaxStreams leaves room in the stream table for the cases that fill it.
const badMaxStreams = 16

func newBadFixture(t *testing.T, prof mm2.Profile) *badFixture {
	t.Helper()
	prof.MaxStreams = badMaxStreams
	m, clk := openT(t, mm2.Options{Profile: prof})
	f := &badFixture{m: m, clk: clk}
	f.tsdID = mm2.StreamID{Source: mm2.Gateway, Sensor: 1}
	f.unknown = mm2.StreamID{Source: mm2.Gateway, Sensor: 999}
	f.tsd = configureT(t, m, mm2.Gateway, 1, mm2.TSD, 100*time.Millisecond)
	f.evt = configureT(t, m, mm2.CAN, 1, mm2.EVT, 0)
	f.gps = configureT(t, m, mm2.BLE, 1, mm2.EVT, 0)
	f.empty = configureT(t, m, mm2.Hosted, 5, mm2.EVT, 0)
	f.unread = configureT(t, m, mm2.Hosted, 6, mm2.TSD, time.Second)
	okT(t, m.SetGPS(mm2.BLE, mm2.GPSConfig{Latitude: 10, Longitude: 11, Altitude: 12, Speed: 13}), "SetGPS")
	for i := uint32(1); i <= 20; i++ {
		write(t, f.tsd, clk, i)
		write(t, f.evt, clk, i)
		write(t, f.unread, clk, i)
		okT(t, f.gps.WriteEventWithGPS(i, mm2.GPSFix{Latitude: 47.4, Longitude: 8.5, Altitude: 400, Speed: float32(i)}), "GPS write")
	}
	buf := make([]mm2.Sample, 7)
	for _, s := range []*mm2.Stream{f.tsd, f.evt, f.gps} {
		if _, err := s.ReadBulk(buf); err != nil {
			t.Fatal(err)
		}
	}
	checkT(t, m, "fixture")
	return f
}

// snapshot is everything observable about a manager's state.
type snapshot struct {
	Stats     mm2.Stats
	Footprint int
	IDs       []mm2.StreamID
	Streams   []streamSnapshot
}

type streamSnapshot struct {
	Stats  mm2.StreamStats
	Counts mm2.Counts
	Peek   []mm2.Sample // every unread record, as PeekBulk sees it
}

func snap(t *testing.T, m *mm2.Manager) snapshot {
	t.Helper()
	sn := snapshot{Stats: m.Stats(), Footprint: m.Footprint(), IDs: m.Streams()}
	for _, id := range sn.IDs {
		s, err := m.Stream(id)
		if errors.Is(err, mm2.ErrClosed) {
			continue // a closed manager hands out no handles; Stats covers it
		}
		okT(t, err, "Stream")
		ss := streamSnapshot{Stats: s.Stats(), Counts: s.Counts()}
		ss.Peek = make([]mm2.Sample, ss.Counts.New)
		if n, err := s.PeekBulk(ss.Peek); err != nil && !errors.Is(err, mm2.ErrNoData) {
			t.Fatal(err)
		} else {
			ss.Peek = ss.Peek[:n]
		}
		sn.Streams = append(sn.Streams, ss)
	}
	return sn
}

// closedSnap is the snapshot of a closed manager, taken through handles
// kept from before Close (Stream returns ErrClosed then).
func closedSnap(f *badFixture) snapshot {
	sn := snapshot{Stats: f.m.Stats(), Footprint: f.m.Footprint(), IDs: f.m.Streams()}
	for _, s := range []*mm2.Stream{f.tsd, f.evt, f.gps, f.empty, f.unread} {
		sn.Streams = append(sn.Streams, streamSnapshot{Stats: s.Stats(), Counts: s.Counts()})
	}
	return sn
}

// TestBadInputChangesNothing calls every public call with every kind of bad
// input on a manager holding data: each returns its documented error
// (errors.Is) and a full snapshot of the manager and every stream is the
// same before and after.
func TestBadInputChangesNothing(t *testing.T) {
	gps := mm2.GPSFix{Latitude: 1, Longitude: 2, Altitude: 3, Speed: 4}
	buf := make([]mm2.Sample, 8)
	type tcase struct {
		name    string
		profile mm2.Profile                       // zero: linux
		prep    func(t *testing.T, f *badFixture) // puts the manager in the state under test
		call    func(f *badFixture) error
		want    error
	}
	fillTable := func(t *testing.T, f *badFixture) {
		for i := len(f.m.Streams()); i < badMaxStreams; i++ {
			configureT(t, f.m, mm2.CAN, uint32(100+i), mm2.EVT, 0)
		}
	}
	closeIt := func(t *testing.T, f *badFixture) { okT(t, f.m.Close(), "Close") }
	powerDown := func(t *testing.T, f *badFixture) { okT(t, f.m.PowerDown(context.Background()), "PowerDown") }
	noUTC := func(t *testing.T, f *badFixture) { f.m.SetUTCAvailable(false) }
	configure := func(id mm2.StreamID, k mm2.Kind, p time.Duration) func(f *badFixture) error {
		return func(f *badFixture) error { _, err := f.m.Configure(id, k, p); return err }
	}
	newID := mm2.StreamID{Source: mm2.CAN, Sensor: 77}
	cases := []tcase{
		// Configure: out-of-range source, bad kind, bad period, another kind or period.
		{name: "Configure source 8", call: configure(mm2.StreamID{Source: mm2.MaxSources, Sensor: 1}, mm2.EVT, 0), want: mm2.ErrInvalidArgument},
		{name: "Configure source 255", call: configure(mm2.StreamID{Source: 255, Sensor: 1}, mm2.TSD, time.Second), want: mm2.ErrInvalidArgument},
		{name: "Configure kind 0", call: configure(newID, 0, time.Second), want: mm2.ErrInvalidArgument},
		{name: "Configure kind 3", call: configure(newID, 3, 0), want: mm2.ErrInvalidArgument},
		{name: "Configure TSD period 0", call: configure(newID, mm2.TSD, 0), want: mm2.ErrInvalidArgument},
		{name: "Configure TSD period negative", call: configure(newID, mm2.TSD, -time.Second), want: mm2.ErrInvalidArgument},
		{name: "Configure TSD period sub-ms", call: configure(newID, mm2.TSD, 500*time.Microsecond), want: mm2.ErrInvalidArgument},
		{name: "Configure TSD period fractional ms", call: configure(newID, mm2.TSD, 1500*time.Microsecond), want: mm2.ErrInvalidArgument},
		{name: "Configure TSD period over 32 bits of ms", call: configure(newID, mm2.TSD, 50*24*time.Hour), want: mm2.ErrInvalidArgument},
		{name: "Configure EVT with a period", call: configure(newID, mm2.EVT, time.Second), want: mm2.ErrInvalidArgument},
		{name: "Configure existing TSD as EVT", call: configure(mm2.StreamID{Source: mm2.Gateway, Sensor: 1}, mm2.EVT, 0), want: mm2.ErrKindMismatch},
		{name: "Configure existing TSD other period", call: configure(mm2.StreamID{Source: mm2.Gateway, Sensor: 1}, mm2.TSD, time.Second), want: mm2.ErrKindMismatch},
		{name: "Configure existing EVT as TSD", call: configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, time.Second), want: mm2.ErrKindMismatch},
		{name: "Configure with the table full", prep: fillTable, call: configure(newID, mm2.EVT, 0), want: mm2.ErrFull},

		// Stream: unknown stream.
		{name: "Stream unknown sensor", call: func(f *badFixture) error { _, err := f.m.Stream(f.unknown); return err }, want: mm2.ErrUnknownStream},
		{name: "Stream out-of-range source", call: func(f *badFixture) error {
			_, err := f.m.Stream(mm2.StreamID{Source: 200, Sensor: 1})
			return err
		}, want: mm2.ErrUnknownStream},

		// SetGPS.
		{name: "SetGPS source 8", call: func(f *badFixture) error {
			return f.m.SetGPS(mm2.MaxSources, mm2.GPSConfig{Latitude: 1, Longitude: 2, Altitude: 3, Speed: 4})
		}, want: mm2.ErrInvalidArgument},
		{name: "SetGPS sensor named twice", call: func(f *badFixture) error {
			return f.m.SetGPS(mm2.CAN, mm2.GPSConfig{Latitude: 20, Longitude: 21, Altitude: 20, Speed: 23})
		}, want: mm2.ErrInvalidArgument},
		{name: "SetGPS naming a TSD stream", call: func(f *badFixture) error {
			return f.m.SetGPS(mm2.Gateway, mm2.GPSConfig{Latitude: 1, Longitude: 21, Altitude: 22, Speed: 23})
		}, want: mm2.ErrKindMismatch},
		{name: "SetGPS with no room in the table", prep: func(t *testing.T, f *badFixture) {
			fillTable(t, f)
		}, call: func(f *badFixture) error {
			return f.m.SetGPS(mm2.CAN, mm2.GPSConfig{Latitude: 20, Longitude: 21, Altitude: 22, Speed: 23})
		}, want: mm2.ErrFull},

		// PowerAbort without a power-down.
		{name: "PowerAbort without PowerDown", call: func(f *badFixture) error { return f.m.PowerAbort() }, want: mm2.ErrInvalidArgument},

		// Writes of the wrong kind.
		{name: "WriteTSD on EVT", call: func(f *badFixture) error { return f.evt.WriteTSD(1) }, want: mm2.ErrKindMismatch},
		{name: "WriteEVT on TSD", call: func(f *badFixture) error { return f.tsd.WriteEVT(1, 5) }, want: mm2.ErrKindMismatch},
		{name: "WriteEventWithGPS on TSD", call: func(f *badFixture) error { return f.tsd.WriteEventWithGPS(1, gps) }, want: mm2.ErrKindMismatch},

		// Reads and acknowledgements with nothing to do.
		{name: "Read with nothing unread", call: func(f *badFixture) error { _, err := f.empty.Read(); return err }, want: mm2.ErrNoData},
		{name: "ReadBulk with nothing unread", call: func(f *badFixture) error { _, err := f.empty.ReadBulk(buf); return err }, want: mm2.ErrNoData},
		{name: "PeekBulk with nothing unread", call: func(f *badFixture) error { _, err := f.empty.PeekBulk(buf); return err }, want: mm2.ErrNoData},
		{name: "Peek(-1)", call: func(f *badFixture) error { _, err := f.tsd.Peek(-1); return err }, want: mm2.ErrInvalidArgument},
		{name: "Peek(MinInt)", call: func(f *badFixture) error { _, err := f.tsd.Peek(math.MinInt); return err }, want: mm2.ErrInvalidArgument},
		{name: "Peek past the unread records", call: func(f *badFixture) error { _, err := f.tsd.Peek(13); return err }, want: mm2.ErrNoData},
		{name: "Peek(MaxInt)", call: func(f *badFixture) error { _, err := f.evt.Peek(math.MaxInt); return err }, want: mm2.ErrNoData},
		{name: "Peek on an empty stream", call: func(f *badFixture) error { _, err := f.empty.Peek(0); return err }, want: mm2.ErrNoData},
		{name: "Ack with nothing pending (unread data)", call: func(f *badFixture) error { _, err := f.unread.Ack(); return err }, want: mm2.ErrNoData},
		{name: "Nack with nothing pending (unread data)", call: func(f *badFixture) error { _, err := f.unread.Nack(); return err }, want: mm2.ErrNoData},
		{name: "Ack on an empty stream", call: func(f *badFixture) error { _, err := f.empty.Ack(); return err }, want: mm2.ErrNoData},
		{name: "Nack on an empty stream", call: func(f *badFixture) error { _, err := f.empty.Nack(); return err }, want: mm2.ErrNoData},

		// MCU profile before UTC is available.
		{name: "WriteTSD before UTC", profile: mm2.ProfileWICED, prep: noUTC, call: func(f *badFixture) error { return f.tsd.WriteTSD(1) }, want: mm2.ErrUTCNotAvailable},
		{name: "WriteEVT before UTC", profile: mm2.ProfileWICED, prep: noUTC, call: func(f *badFixture) error { return f.evt.WriteEVT(1, 5) }, want: mm2.ErrUTCNotAvailable},
		{name: "WriteEventWithGPS before UTC", profile: mm2.ProfileSTM32, prep: noUTC, call: func(f *badFixture) error { return f.gps.WriteEventWithGPS(1, gps) }, want: mm2.ErrUTCNotAvailable},

		// Writes during a power-down.
		{name: "WriteTSD powering down", prep: powerDown, call: func(f *badFixture) error { return f.tsd.WriteTSD(1) }, want: mm2.ErrPoweringDown},
		{name: "WriteEVT powering down", prep: powerDown, call: func(f *badFixture) error { return f.evt.WriteEVT(1, 5) }, want: mm2.ErrPoweringDown},
		{name: "WriteEventWithGPS powering down", prep: powerDown, call: func(f *badFixture) error { return f.gps.WriteEventWithGPS(1, gps) }, want: mm2.ErrPoweringDown},
		{name: "WriteTSD powering down, wrong kind", prep: powerDown, call: func(f *badFixture) error { return f.evt.WriteTSD(1) }, want: mm2.ErrPoweringDown},
	}
	// Every method of a closed manager and its handles.
	for name, call := range map[string]func(f *badFixture) error{
		"Close":              func(f *badFixture) error { return f.m.Close() },
		"Configure":          configure(newID, mm2.EVT, 0),
		"Configure existing": func(f *badFixture) error { _, err := f.m.Configure(f.tsdID, mm2.TSD, 100*time.Millisecond); return err },
		"Stream":             func(f *badFixture) error { _, err := f.m.Stream(f.tsdID); return err },
		"SetGPS": func(f *badFixture) error {
			return f.m.SetGPS(mm2.CAN, mm2.GPSConfig{Latitude: 20, Longitude: 21, Altitude: 22, Speed: 23})
		},
		"PowerDown":         func(f *badFixture) error { return f.m.PowerDown(context.Background()) },
		"PowerAbort":        func(f *badFixture) error { return f.m.PowerAbort() },
		"WriteTSD":          func(f *badFixture) error { return f.tsd.WriteTSD(1) },
		"WriteEVT":          func(f *badFixture) error { return f.evt.WriteEVT(1, 5) },
		"WriteEventWithGPS": func(f *badFixture) error { return f.gps.WriteEventWithGPS(1, gps) },
		"Read":              func(f *badFixture) error { _, err := f.tsd.Read(); return err },
		"ReadBulk":          func(f *badFixture) error { _, err := f.evt.ReadBulk(buf); return err },
		"Peek":              func(f *badFixture) error { _, err := f.tsd.Peek(0); return err },
		"PeekBulk":          func(f *badFixture) error { _, err := f.evt.PeekBulk(buf); return err },
		"Ack":               func(f *badFixture) error { _, err := f.tsd.Ack(); return err },
		"Nack":              func(f *badFixture) error { _, err := f.evt.Nack(); return err },
	} {
		cases = append(cases, tcase{name: "closed " + name, prep: closeIt, call: call, want: mm2.ErrClosed})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prof := c.profile
			if prof == (mm2.Profile{}) {
				prof = mm2.ProfileLinux
			}
			f := newBadFixture(t, prof)
			if c.prep != nil {
				c.prep(t, f)
			}
			take := func() snapshot {
				if errors.Is(c.want, mm2.ErrClosed) {
					return closedSnap(f)
				}
				return snap(t, f.m)
			}
			before := take()
			err := c.call(f)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if after := take(); !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before, after)
			}
			if !errors.Is(c.want, mm2.ErrClosed) {
				checkT(t, f.m, c.name)
			}
		})
	}
}

// TestClosedManagerIgnoresSetUTCAvailable: SetUTCAvailable returns no error,
// so on a closed manager the only way to keep the promise that every later
// call changes nothing is to ignore it.
func TestClosedManagerIgnoresSetUTCAvailable(t *testing.T) {
	f := newBadFixture(t, mm2.ProfileWICED)
	okT(t, f.m.Close(), "Close")
	before := closedSnap(f)
	f.m.SetUTCAvailable(false)
	if after := closedSnap(f); !reflect.DeepEqual(before, after) {
		t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before.Stats, after.Stats)
	}
}

// TestOpenRefusesBadOptions: every field of Options (and of its Profile)
// with an out-of-range value makes Open fail with ErrInvalidArgument and
// return no manager.
func TestOpenRefusesBadOptions(t *testing.T) {
	linux := func(f func(p *mm2.Profile)) mm2.Options {
		p := mm2.ProfileLinux
		f(&p)
		return mm2.Options{Profile: p}
	}
	wiced := func(f func(p *mm2.Profile)) mm2.Options {
		p := mm2.ProfileWICED
		f(&p)
		return mm2.Options{Profile: p}
	}
	cases := map[string]mm2.Options{
		"SectorSize 0":                 {Profile: mm2.Profile{Name: "x", PoolBytes: 4096, SectorIDBits: 16, MaxStreams: 1}},
		"SectorSize below minimum":     linux(func(p *mm2.Profile) { p.SectorSize = 12 }),
		"SectorSize not multiple of 4": linux(func(p *mm2.Profile) { p.SectorSize = 30 }),
		"SectorSize above maximum":     linux(func(p *mm2.Profile) { p.SectorSize = 512 }),
		"SectorSize negative":          linux(func(p *mm2.Profile) { p.SectorSize = -32 }),
		"PoolBytes 0":                  linux(func(p *mm2.Profile) { p.PoolBytes = 0 }),
		"PoolBytes negative":           linux(func(p *mm2.Profile) { p.PoolBytes = -4096 }),
		"PoolBytes not whole sectors":  linux(func(p *mm2.Profile) { p.PoolBytes = 4100 }),
		"PoolBytes below one sector":   linux(func(p *mm2.Profile) { p.PoolBytes = 16 }),
		"PoolBytes too many 16-bit ids": {Profile: func() mm2.Profile {
			p := mm2.ProfileSTM32
			p.PoolBytes = 32 * 70_000
			return p
		}()},
		"PoolBytes too many 32-bit ids":  linux(func(p *mm2.Profile) { p.PoolBytes = 32 << 24 }),
		"SectorIDBits 8":                 linux(func(p *mm2.Profile) { p.SectorIDBits = 8 }),
		"SectorIDBits 64":                linux(func(p *mm2.Profile) { p.SectorIDBits = 64 }),
		"MaxStreams 0":                   linux(func(p *mm2.Profile) { p.MaxStreams = 0 }),
		"MaxStreams negative":            linux(func(p *mm2.Profile) { p.MaxStreams = -1 }),
		"MaxStreams above 16 bits":       linux(func(p *mm2.Profile) { p.MaxStreams = 1 << 16 }),
		"BudgetBytes negative":           linux(func(p *mm2.Profile) { p.BudgetBytes = -1 }),
		"wiced PoolBytes over budget":    wiced(func(p *mm2.Profile) { p.PoolBytes = 8 << 10 }),
		"wiced MaxStreams over budget":   wiced(func(p *mm2.Profile) { p.MaxStreams = 200 }),
		"wiced BudgetBytes too small":    wiced(func(p *mm2.Profile) { p.BudgetBytes = 4 << 10 }),
		"Overflow unknown":               {Overflow: 2},
		"SpillPercent negative":          {SpillPercent: -1},
		"SpillPercent over 100":          {SpillPercent: 101},
		"DiskCapBytes negative":          {DiskCapBytes: -1},
		"DiskCapBytes over maximum":      {DiskCapBytes: mm2.MaxDiskCapBytes + 1},
		"SegmentBytes below 4 KB":        {SegmentBytes: 1024},
		"SegmentBytes negative":          {SegmentBytes: -1},
		"SegmentBytes over half the cap": {DiskCapBytes: 64 << 10, SegmentBytes: 64 << 10},
		"Sync interval 0":                {Sync: mm2.SyncInterval(0)},
		"Sync interval negative":         {Sync: mm2.SyncInterval(-time.Second)},
		"Dir on a profile without disk":  {Profile: mm2.ProfileWICED, Dir: "mm2-data"},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := mm2.Open(o)
			if !errors.Is(err, mm2.ErrInvalidArgument) || m != nil {
				if m != nil {
					_ = m.Close()
				}
				t.Fatalf("Open = %v, %v; want nil, ErrInvalidArgument", m, err)
			}
			t.Log(err)
		})
	}
	if _, err := mm2.ProfileByName("esp32"); !errors.Is(err, mm2.ErrInvalidArgument) {
		t.Fatalf("ProfileByName(esp32) = %v, want ErrInvalidArgument", err)
	}
}
