package mm2_test

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/mm2go/mm2"
)

// exampleClock is a clock the examples advance by hand, so their output is
// the same on every run.
type exampleClock struct{ t time.Time }

func (c *exampleClock) Now() time.Time { return c.t }

func newExampleClock() *exampleClock {
	return &exampleClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func stamp(ms int64) string { return time.UnixMilli(ms).UTC().Format("15:04:05.000") }

// A speed sensor sampled every 100 ms on the CAN source: write, read a batch
// into a caller buffer, send it, acknowledge it.
func Example() {
	clk := newExampleClock()
	m, err := mm2.Open(mm2.Options{Profile: mm2.ProfileLinux, Clock: clk.Now})
	if err != nil {
		panic(err)
	}
	defer m.Close()

	speed, err := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 42}, mm2.TSD, 100*time.Millisecond)
	if err != nil {
		panic(err)
	}
	for _, kmh := range []float32{87.5, 88, 88.25} {
		if err := speed.WriteTSD(math.Float32bits(kmh)); err != nil {
			panic(err)
		}
		clk.t = clk.t.Add(100 * time.Millisecond)
	}

	buf := make([]mm2.Sample, 64)
	n, err := speed.ReadBulk(buf) // marks them pending; allocates nothing
	if err != nil {
		panic(err)
	}
	for _, s := range buf[:n] {
		fmt.Printf("seq %d at %s: %.2f km/h\n", s.Seq, stamp(s.UTCms), math.Float32frombits(s.Value))
	}
	fmt.Printf("before ack: %+v\n", speed.Counts())
	acked, _ := speed.Ack() // the cloud confirmed: erase exactly what was sent
	fmt.Printf("acked %d: %+v\n", acked, speed.Counts())
	// Output:
	// seq 1 at 12:00:00.000: 87.50 km/h
	// seq 2 at 12:00:00.100: 88.00 km/h
	// seq 3 at 12:00:00.200: 88.25 km/h
	// before ack: {New:0 Pending:3 Total:3}
	// acked 3: {New:0 Pending:0 Total:0}
}

// A batch the cloud did not confirm is NACKed: the same records come back, in
// the same order, with the same sequence numbers.
func ExampleStream_Nack() {
	m, err := mm2.Open(mm2.Options{})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	door, _ := m.Configure(mm2.StreamID{Source: mm2.Gateway, Sensor: 7}, mm2.EVT, 0)
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	for i, open := range []uint32{1, 0, 1} {
		_ = door.WriteEVT(open, base+int64(i)*1500)
	}

	first, _ := door.Read()
	second, _ := door.Read()
	fmt.Println("sent", first.Seq, second.Seq, "- upload failed")
	n, _ := door.Nack()
	fmt.Printf("nacked %d: %+v\n", n, door.Counts())

	buf := make([]mm2.Sample, 8)
	n, _ = door.ReadBulk(buf)
	for _, s := range buf[:n] {
		fmt.Printf("resent seq %d: door=%d at %s\n", s.Seq, s.Value, stamp(s.UTCms))
	}
	n, _ = door.Ack()
	fmt.Println("acked", n)
	if _, err := door.Ack(); errors.Is(err, mm2.ErrNoData) {
		fmt.Println("nothing left pending")
	}
	// Output:
	// sent 1 2 - upload failed
	// nacked 2: {New:3 Pending:0 Total:3}
	// resent seq 1: door=1 at 12:00:00.000
	// resent seq 2: door=0 at 12:00:01.500
	// resent seq 3: door=1 at 12:00:03.000
	// acked 3
	// nothing left pending
}

// With a GPS configuration for its source, an event is written together with
// the position, all five with one timestamp. On the MCU profiles nothing is
// written before UTC is known.
func ExampleStream_WriteEventWithGPS() {
	clk := newExampleClock()
	m, err := mm2.Open(mm2.Options{Profile: mm2.ProfileWICED, Clock: clk.Now})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	gps := mm2.GPSConfig{Latitude: 100, Longitude: 101, Altitude: 102, Speed: 103}
	if err := m.SetGPS(mm2.Hosted, gps); err != nil { // configures the four EVT streams
		panic(err)
	}
	harsh, _ := m.Configure(mm2.StreamID{Source: mm2.Hosted, Sensor: 9}, mm2.EVT, 0)
	fix := mm2.GPSFix{Latitude: 47.3769, Longitude: 8.5417, Altitude: 408, Speed: 13.9}

	err = harsh.WriteEventWithGPS(1, fix)
	fmt.Println("before UTC:", errors.Is(err, mm2.ErrUTCNotAvailable))
	m.SetUTCAvailable(true)
	if err := harsh.WriteEventWithGPS(1, fix); err != nil {
		panic(err)
	}

	ev, _ := harsh.Read()
	fmt.Printf("harsh braking seq %d at %s\n", ev.Seq, stamp(ev.UTCms))
	for _, f := range []struct {
		name   string
		sensor uint32
	}{{"latitude", gps.Latitude}, {"longitude", gps.Longitude}, {"altitude", gps.Altitude}, {"speed", gps.Speed}} {
		s, _ := m.Stream(mm2.StreamID{Source: mm2.Hosted, Sensor: f.sensor})
		smp, _ := s.Read()
		fmt.Printf("%-9s %8.4f at %s\n", f.name, math.Float32frombits(smp.Value), stamp(smp.UTCms))
	}
	// Output:
	// before UTC: true
	// harsh braking seq 1 at 12:00:00.000
	// latitude   47.3769 at 12:00:00.000
	// longitude   8.5417 at 12:00:00.000
	// altitude  408.0000 at 12:00:00.000
	// speed      13.9000 at 12:00:00.000
}

// Stats is a snapshot for monitoring: pool use, pressure, density, drops;
// Stream.Stats is one stream's.
func ExampleManager_Stats() {
	clk := newExampleClock()
	m, err := mm2.Open(mm2.Options{Profile: mm2.ProfileSTM32, Clock: clk.Now})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	m.SetUTCAvailable(true)
	rpm, _ := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, time.Second)
	for i := 0; i < 6*100; i++ { // 600 samples, 6 to a sector: 100 of the 128 sectors
		_ = rpm.WriteTSD(uint32(800 + i%50))
		clk.t = clk.t.Add(time.Second)
	}
	st := m.Stats()
	fmt.Printf("%s: %d of %d sectors used (%.0f %%, %v), space efficiency %.0f %%\n",
		st.Profile, st.SectorsUsed, st.SectorsTotal, st.UtilizationPct, st.Pressure, st.SpaceEfficiencyPct)
	ss := rpm.Stats()
	fmt.Printf("%v: %+v in %d sectors, oldest unacknowledged at %s\n",
		ss.ID, ss.Counts, ss.SectorsRAM, stamp(ss.OldestUnackedMs))
	for i := 0; i < 6*40; i++ { // the pool fills: the oldest unsent sectors go
		_ = rpm.WriteTSD(1000)
		clk.t = clk.t.Add(time.Second)
	}
	st = m.Stats()
	fmt.Printf("after 240 more: %d used (%v), %d records dropped\n", st.SectorsUsed, st.Pressure, st.Drops.RAMFull)
	fmt.Println("check:", m.Check())
	// Output:
	// stm32: 100 of 128 sectors used (78 %, warning), space efficiency 75 %
	// can/1: {New:600 Pending:0 Total:600} in 100 sectors, oldest unacknowledged at 12:00:00.000
	// after 240 more: 128 used (critical), 72 records dropped
	// check: <nil>
}
