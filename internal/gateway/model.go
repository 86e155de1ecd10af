// Package gateway is the simulated vehicle gateway behind `mm2 simulate`:
// a vehicle on simulated time writing CAN signals, GPS, events and host
// sensors into a mm2.Manager; an uplink sending them over MQTT through a
// link that scripted outages cut; power cuts and crashes that reopen the
// store; and a cloud-side checker that decodes every payload, checks every
// record against the signal model and accounts for every record written.
package gateway

import (
	"fmt"
	"math"
	"time"

	"github.com/mm2go/mm2"
)

// Signal is one stream of the simulated vehicle.
type Signal struct {
	ID     mm2.StreamID
	Name   string
	Kind   mm2.Kind
	Period time.Duration // TSD: the sample period; EVT: the mean interval between events
	GPS    bool          // EVT written with the GPS fix (WriteEventWithGPS)
	Fix    bool          // one of the source's GPS sensors (written by the 1 Hz fix and by GPS events)
}

// The Gateway source's GPS sensors and events.
const (
	SensorLatitude  uint32 = 1
	SensorLongitude uint32 = 2
	SensorAltitude  uint32 = 3
	SensorSpeed     uint32 = 4
	SensorHardBrake uint32 = 20
	SensorHarshAcc  uint32 = 21
	SensorSharpTurn uint32 = 22
	// CANSensorBase is the sensor id of the first CAN signal.
	CANSensorBase uint32 = 1000
)

// GPSConfig is the Gateway source's GPS configuration.
var GPSConfig = mm2.GPSConfig{Latitude: SensorLatitude, Longitude: SensorLongitude,
	Altitude: SensorAltitude, Speed: SensorSpeed}

// canRates is the mix of CAN sample rates: fraction of the signals and period.
var canRates = []struct {
	per    int // signals per 20
	period time.Duration
}{
	{2, 10 * time.Millisecond},   // 100 Hz: wheel speeds, steering angle, yaw rate
	{2, 20 * time.Millisecond},   // 50 Hz: engine speed, torque, throttle
	{4, 50 * time.Millisecond},   // 20 Hz: pedals, gear, brake pressure
	{12, 100 * time.Millisecond}, // 10 Hz: temperatures, pressures, levels, states
}

// Signals is the vehicle's signal table with canSignals CAN signals (at
// 10–100 Hz), on all four sources.
func Signals(canSignals int) []Signal {
	var sig []Signal
	add := func(src mm2.Source, sensor uint32, name string, kind mm2.Kind, period time.Duration) *Signal {
		sig = append(sig, Signal{ID: mm2.StreamID{Source: src, Sensor: sensor}, Name: name, Kind: kind, Period: period})
		return &sig[len(sig)-1]
	}
	// Gateway: the GPS fix at 1 Hz, driving events with the fix.
	for _, g := range []struct {
		s uint32
		n string
	}{{SensorLatitude, "gps.latitude"}, {SensorLongitude, "gps.longitude"}, {SensorAltitude, "gps.altitude"}, {SensorSpeed, "gps.speed"}} {
		add(mm2.Gateway, g.s, g.n, mm2.EVT, time.Second).Fix = true
	}
	add(mm2.Gateway, SensorHardBrake, "event.hard_braking", mm2.EVT, 90*time.Second).GPS = true
	add(mm2.Gateway, SensorHarshAcc, "event.harsh_acceleration", mm2.EVT, 120*time.Second).GPS = true
	add(mm2.Gateway, SensorSharpTurn, "event.sharp_turn", mm2.EVT, 150*time.Second).GPS = true
	// Hosted: the gateway's own host sensors.
	add(mm2.Hosted, 1, "host.rssi_dbm", mm2.TSD, time.Second)
	add(mm2.Hosted, 2, "host.modem_temp_c", mm2.TSD, 5*time.Second)
	add(mm2.Hosted, 3, "host.supply_voltage_mv", mm2.TSD, time.Second)
	add(mm2.Hosted, 4, "host.cpu_temp_c", mm2.TSD, 5*time.Second)
	add(mm2.Hosted, 5, "host.wifi_rssi_dbm", mm2.EVT, 10*time.Second)
	// BLE: eight cargo tags advertising at irregular times.
	for tag := uint32(0); tag < 8; tag++ {
		base := 100 + 10*tag
		add(mm2.BLE, base, fmt.Sprintf("ble.tag%d.temp_c", tag), mm2.EVT, 3*time.Second)
		add(mm2.BLE, base+1, fmt.Sprintf("ble.tag%d.humidity_pct", tag), mm2.EVT, 6*time.Second)
		add(mm2.BLE, base+2, fmt.Sprintf("ble.tag%d.battery_mv", tag), mm2.EVT, 30*time.Second)
		add(mm2.BLE, base+3, fmt.Sprintf("ble.tag%d.rssi_dbm", tag), mm2.EVT, 3*time.Second)
	}
	// CAN: canSignals signals at 10–100 Hz in the mix of canRates.
	for i := 0; i < canSignals; i++ {
		k, period := i%20, canRates[len(canRates)-1].period
		for _, r := range canRates {
			if k < r.per {
				period = r.period
				break
			}
			k -= r.per
		}
		add(mm2.CAN, CANSensorBase+uint32(i), fmt.Sprintf("can.signal%03d", i), mm2.TSD, period)
	}
	return sig
}

// RecordsPerSecond is how many records the signal table writes per
// simulated second (events by their mean rate; a GPS event adds four).
func RecordsPerSecond(sig []Signal) float64 {
	r := 0.0
	for _, s := range sig {
		per := 1 / s.Period.Seconds()
		if s.GPS {
			per *= 5
		}
		r += per
	}
	return r
}

// mix is a 64-bit hash of a stream (splitmix64 finaliser).
func mix(id mm2.StreamID) uint64 {
	x := uint64(id.Source)<<32 | uint64(id.Sensor)
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// wave is a triangle wave in [0, amp] with the given period, at t ms.
func wave(t, periodMs, amp int64) int64 {
	ph := t % periodMs
	if ph < 0 {
		ph += periodMs
	}
	half := periodMs / 2
	if ph < half {
		return ph * amp / half
	}
	return (periodMs - ph) * amp / (periodMs - half)
}

// Expected is the value the signal model gives stream id at UTC t (ms): the
// vehicle writes it and the checker verifies every record against it, so a
// record whose value, time or stream was damaged anywhere on the way is
// caught. GPS sensors carry float32 bits along a route; the others are raw
// integer signal values as a CAN frame or a host sensor gives them.
func Expected(id mm2.StreamID, t int64) uint32 {
	if id.Source == mm2.Gateway {
		switch id.Sensor {
		case SensorLatitude:
			return math.Float32bits(float32(48.1 + float64(wave(t, 3_600_000, 200_000))/1e6))
		case SensorLongitude:
			return math.Float32bits(float32(11.5 + float64(wave(t+900_000, 3_600_000, 300_000))/1e6))
		case SensorAltitude:
			return math.Float32bits(float32(500 + wave(t, 1_200_000, 80)))
		case SensorSpeed:
			return math.Float32bits(float32(wave(t, 600_000, 1300)) / 10)
		}
	}
	h := mix(id)
	base := int64(h % 10_000)
	amp := int64(1 + (h>>16)%4_000)
	period := int64(4_000 + (h>>32)%120*1_000)
	return uint32(base + wave(t, period, amp))
}
