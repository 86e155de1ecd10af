package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/uplink"
)

// short is a scaled-down run: a few simulated minutes, fewer CAN signals,
// outages long enough to fill the pool and spill to disk.
func short(t *testing.T, mod func(*Config)) *Report {
	t.Helper()
	cfg := Config{Dir: t.TempDir(), Duration: 4 * time.Minute, Seed: 7, Sync: mm2.SyncOnPowerDown(),
		CANSignals: 40, Outages: 3, OutageLen: 30 * time.Second, PowerCut: true, PowerLoss: true, Crash: true,
		Parked: time.Minute, Backlog: 2000}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	r.WriteTable(&sb)
	t.Logf("events:\n  %s\n%s", strings.Join(r.Events, "\n  "), sb.String())
	if !r.OK || r.Lost != 0 {
		t.Fatalf("lost = %d, errors: %v", r.Lost, r.Errors)
	}
	if r.Invented != 0 || r.Cloud.BadValues != 0 || r.Cloud.BadPayloads != 0 || r.Cloud.Reordered != 0 {
		t.Fatalf("invented %d, bad values %d, bad payloads %d, reordered %d",
			r.Invented, r.Cloud.BadValues, r.Cloud.BadPayloads, r.Cloud.Reordered)
	}
	if sum := r.Delivered + r.Dropped.Total + r.Buffered - r.BufferedDelivered + r.Lost; sum != r.Written+r.DropsAlsoDelivered {
		t.Fatalf("delivered+dropped+buffered+lost = %d, written %d", sum, r.Written)
	}
	for _, src := range []string{"gateway", "hosted", "ble", "can"} {
		if r.Sources[src].Written == 0 || (r.Sources[src].Delivered == 0 && !cfg.Offline) {
			t.Fatalf("source %s: %+v", src, r.Sources[src])
		}
	}
	return r
}

func TestShortSimulationHitsEveryPhaseAndLosesNothing(t *testing.T) {
	r := short(t, func(c *Config) { c.DiskCap = 48 << 10; c.Segment = 8 << 10 })
	if !r.Phases.OutageSpill || !r.Phases.PowerCut || !r.Phases.PowerLoss || !r.Phases.Crash || !r.Phases.DiskCap {
		t.Fatalf("phases: %+v", r.Phases)
	}
	if r.Dropped.DiskCap == 0 {
		t.Fatal("no record dropped at the disk cap")
	}
	if len(r.PowerCuts) != 1 || r.PowerCuts[0].NotRecovered != 0 || r.PowerCuts[0].Held == 0 {
		t.Fatalf("power cut: %+v", r.PowerCuts)
	}
	// On-power-down syncs nothing between checkpoints: the power loss,
	// during an outage, destroys records written since the last one.
	if len(r.PowerLosses) != 1 || r.PowerLosses[0].Held == 0 || r.PowerLosses[0].Destroyed == 0 || r.PowerLosses[0].OutsideWindow != 0 {
		t.Fatalf("power loss: %+v", r.PowerLosses)
	}
	if r.Dropped.CrashWindow != r.PowerLosses[0].Destroyed {
		t.Fatalf("crash-window drops %d, the power loss destroyed %d", r.Dropped.CrashWindow, r.PowerLosses[0].Destroyed)
	}
	// The process crash leaves the page cache: nothing is destroyed and
	// numbering goes on without a gap.
	if len(r.Crashes) != 1 || r.Crashes[0].Held == 0 || r.Crashes[0].Destroyed != 0 || r.Crashes[0].NumberingGap != 0 {
		t.Fatalf("process crash: %+v", r.Crashes)
	}
	if r.Buffered != 0 {
		t.Fatalf("%d records still buffered after the drain", r.Buffered)
	}
}

func TestShortSimulationSyncInterval(t *testing.T) {
	r := short(t, func(c *Config) { c.Sync = mm2.SyncInterval(5 * time.Second); c.PowerCut = false })
	if !r.Phases.Crash || !r.Phases.PowerLoss || !r.Phases.OutageSpill {
		t.Fatalf("phases: %+v", r.Phases)
	}
	// At most about 5 s of records (40 CAN signals ≈ 1,000 records/s) may go.
	if d := r.PowerLosses[0].Destroyed; d > 8_000 {
		t.Fatalf("the power loss destroyed %d records, more than the 5 s window holds", d)
	}
	if c := r.Crashes[0]; c.Destroyed != 0 || c.NumberingGap != 0 {
		t.Fatalf("process crash: %+v", c)
	}
}

func TestShortSimulationSyncAlwaysPowerLossDestroysNothing(t *testing.T) {
	r := short(t, func(c *Config) {
		c.Sync = mm2.SyncAlways() // an fsync per record: a small run
		c.CANSignals = 1
		c.Duration = 16 * time.Second
		c.OutageLen = 2 * time.Second
		c.PowerCut = false
	})
	if !r.Phases.PowerLoss || r.PowerLosses[0].Held == 0 || r.PowerLosses[0].Destroyed != 0 || r.Dropped.CrashWindow != 0 {
		t.Fatalf("power loss under SyncAlways: %+v", r.PowerLosses)
	}
	if !r.Phases.Crash || r.Crashes[0].Destroyed != 0 || r.Crashes[0].NumberingGap != 0 {
		t.Fatalf("process crash under SyncAlways: %+v", r.Crashes)
	}
}

func TestOfflineRunKeepsEverythingBuffered(t *testing.T) {
	r := short(t, func(c *Config) {
		c.Offline = true
		c.Duration = 20 * time.Second
		c.PowerCut, c.PowerLoss, c.Crash = false, false, false
	})
	if r.Delivered != 0 || r.Buffered != r.Written {
		t.Fatalf("offline: delivered %d, buffered %d, written %d", r.Delivered, r.Buffered, r.Written)
	}
}

func TestCheckerCountsDuplicatesAndCatchesDamage(t *testing.T) {
	c := NewChecker(0, 1<<40)
	id := mm2.StreamID{Source: mm2.CAN, Sensor: CANSensorBase}
	run := func(first uint64, n int) []byte {
		var smp []mm2.Sample
		for i := 0; i < n; i++ {
			t := int64(1_000_000 + 100*(int(first)+i))
			smp = append(smp, mm2.Sample{Seq: first + uint64(i), UTCms: t, Value: Expected(id, t)})
		}
		p, err := uplink.Encode(nil, &uplink.Batch{Source: mm2.CAN, ID: 1,
			Runs: []uplink.Run{{Sensor: id.Sensor, Kind: mm2.TSD, Samples: smp}}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	c.Handle(run(1, 10))
	c.Handle(run(5, 10)) // 5..10 again
	got := c.Received(id)
	if got.Seqs.Len() != 14 || got.Duplicates != 6 || got.Reordered != 0 || got.BadValue != 0 {
		t.Fatalf("received %+v", got)
	}
	p := run(20, 3)
	p[len(p)-5] ^= 1 // a flipped bit: the CRC refuses the payload
	c.Handle(p)
	if st := c.Stats(); st.BadPayloads != 1 {
		t.Fatalf("stats %+v", st)
	}
	var bad []mm2.Sample
	bad = append(bad, mm2.Sample{Seq: 30, UTCms: 5_000, Value: Expected(id, 5_000) + 1})
	q, err := uplink.Encode(nil, &uplink.Batch{Source: mm2.CAN, ID: 2,
		Runs: []uplink.Run{{Sensor: id.Sensor, Kind: mm2.TSD, Samples: bad}}})
	if err != nil {
		t.Fatal(err)
	}
	c.Handle(q)
	c.Handle(run(16, 2)) // first arrivals below 30: out of order
	if st := c.Stats(); st.BadValues != 1 || st.Reordered != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSignalTable(t *testing.T) {
	sig := Signals(200)
	can, fast := 0, 0
	sources := map[mm2.Source]bool{}
	for _, s := range sig {
		sources[s.ID.Source] = true
		if s.ID.Source == mm2.CAN {
			can++
			if s.Kind != mm2.TSD || s.Period < 10*time.Millisecond || s.Period > 100*time.Millisecond {
				t.Fatalf("%s: %v at %v", s.Name, s.Kind, s.Period)
			}
			if s.Period == 10*time.Millisecond {
				fast++
			}
		}
	}
	if can != 200 || fast == 0 || len(sources) != 4 {
		t.Fatalf("%d CAN signals (%d at 100 Hz), %d sources", can, fast, len(sources))
	}
}
