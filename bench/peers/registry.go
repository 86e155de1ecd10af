// Package peers holds one Store adapter per system in the comparison: mm2 and the stores a
// user would pick instead of it.
package peers

import "github.com/mm2go/mm2/bench/workload"

// System is one entry of the comparison.
type System struct {
	Name   string // short name used on the command line and in tables
	UsedBy string // who uses the store this way
	Layout string // how the adapter maps streams, entries, reads and acks onto the store
	Open   workload.Opener
	// Unavailable is non-nil when the system cannot run in this build; it says why.
	Unavailable error
}

// All lists the systems, mm2 first.
func All() []System {
	return []System{
		mm2System(),
		{
			Name:   "wal",
			UsedBy: "Telegraf's disk buffer (github.com/tidwall/wal)",
			Layout: "one log per queue, one entry per batch, read by index, ack = TruncateFront",
			Open:   OpenWAL,
		},
		{
			Name:   "bbolt",
			UsedBy: "OpenTelemetry collector's persistent queue (go.etcd.io/bbolt)",
			Layout: "one bucket per queue, one key per batch plus read, write and dispatched index keys, one transaction per append, read and ack",
			Open:   OpenBolt,
		},
		{
			Name:   "dque",
			UsedBy: "github.com/joncrlsn/dque",
			Layout: "one dque queue per queue, one gob-encoded item per batch, read = Peek, ack = Dequeue",
			Open:   OpenDQue,
		},
		{
			Name:   "pebble",
			UsedBy: "key-value store (github.com/cockroachdb/pebble)",
			Layout: "one key per batch (queue, index), read by iterator, ack = point deletes in one batch",
			Open:   OpenPebble,
		},
	}
}

// ByName finds a system by its short name.
func ByName(name string) (System, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return System{}, false
}
