// Package engine measures the figures of mm2's storage engine that no peer has a column for:
// what each sync policy costs on disk and in bytes sent to the device, what an idle store
// writes, how long new streams take, how long a write waits while other goroutines sync,
// scrape metrics and run Check, and how long a metrics scrape takes with a backlog on disk.
//
// Everything goes through mm2's public API (through the comparison's mm2 adapter where a
// workload is written), and each measurement runs in a process of its own so that the
// device counters of /proc/self/io are its own.
package engine

import (
	"time"

	"github.com/mm2go/mm2"

	"github.com/mm2go/mm2/bench/peers"
	"github.com/mm2go/mm2/bench/workload"
)

// Config sizes the measurements.
type Config struct {
	// Workload sizes the policy runs: workload a's streams and samples, its batch, its
	// phase limit.
	Workload workload.Config
	// IdleFor is how long a store with data is left idle; TickEvery is how often the idle
	// gateway calls Manager.Tick meanwhile, as its main loop would.
	IdleFor, TickEvery time.Duration
	// NewStreams is how many streams are configured and written once, in a new store.
	NewStreams int
	// LatencyFor is how long the write-latency run lasts. The writer is due to write
	// LatencyRate samples a second, round-robin over LatencyStreams streams (a TSD stream's
	// clock advances one period per round); a syncer, a scraper and a checker run beside
	// it, each pausing its Every between calls.
	LatencyFor                         time.Duration
	LatencyStreams                     int
	LatencyRate                        int
	SyncEvery, ScrapeEvery, CheckEvery time.Duration
	// ScrapeStreams streams are written until the store holds ScrapeBacklog bytes on disk,
	// then Scrapes scrapes of each kind are timed.
	ScrapeStreams int
	ScrapeBacklog int64
	Scrapes       int
}

// maxStreams is the linux profile's stream table size: the "2,048 streams" of the figures.
const maxStreams = 2048

// Full is the published run.
func Full() Config {
	return Config{
		Workload:       workload.Full(),
		IdleFor:        time.Minute,
		TickEvery:      100 * time.Millisecond,
		NewStreams:     maxStreams,
		LatencyFor:     20 * time.Second,
		LatencyStreams: maxStreams,
		LatencyRate:    100_000,
		SyncEvery:      10 * time.Millisecond,
		ScrapeEvery:    100 * time.Millisecond,
		CheckEvery:     100 * time.Millisecond,
		ScrapeStreams:  maxStreams,
		ScrapeBacklog:  256 << 20,
		Scrapes:        5,
	}
}

// Quick is the short run: the idle store waits 5 s (its bytes are scaled to a minute), the
// latency run lasts 3 s and the scrape backlog is 32 MB.
func Quick() Config {
	c := Full()
	c.Workload = workload.Quick()
	c.IdleFor = 5 * time.Second
	c.LatencyFor = 3 * time.Second
	c.ScrapeBacklog = 32 << 20
	c.Scrapes = 3
	return c
}

// Policy is one way of running mm2 in the policy table.
type Policy struct {
	Name   string // on the command line: default, on-power-down, interval, always, sync-each
	Label  string // in the report
	Config peers.MM2Config
}

// policyInterval is the SyncInterval of the policy table: a gateway checkpointing every
// second.
const policyInterval = time.Second

// Policies lists mm2's default policy, each other sync policy, and the default with
// Manager.Sync after every entry and ACK (how the synced rows of the workloads run). A
// policy equal to the default is listed once, as the default.
func Policies() []Policy {
	def := mm2.SyncPolicy{}.String()
	out := []Policy{{Name: "default", Label: "default (" + def + ")"}}
	for _, p := range []struct {
		name string
		pol  mm2.SyncPolicy
	}{
		{"on-power-down", mm2.SyncOnPowerDown()},
		{"interval", mm2.SyncInterval(policyInterval)},
		{"always", mm2.SyncAlways()},
	} {
		if p.pol.String() == def {
			continue
		}
		out = append(out, Policy{Name: p.name, Label: p.pol.String(), Config: peers.MM2Config{Policy: p.pol}})
	}
	return append(out, Policy{
		Name:   "sync-each",
		Label:  "default + Sync() after every entry and ACK (the synced rows)",
		Config: peers.MM2Config{SyncEach: true},
	})
}

// PolicyByName finds a policy of Policies by its Name.
func PolicyByName(name string) (Policy, bool) {
	for _, p := range Policies() {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}

// openPolicy opens the mm2 adapter in dir under p with streams streams.
func openPolicy(dir string, p Policy, streams int) (*peers.MM2Store, error) {
	c := p.Config
	c.Streams = streams
	return peers.OpenMM2With(dir, c)
}
