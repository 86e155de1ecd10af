package mm2

import (
	"unsafe"

	"github.com/mm2go/mm2/internal/layout"
	"github.com/mm2go/mm2/internal/pool"
)

// Pressure is the pool's fill level.
type Pressure uint8

// Pressure levels by pool use: Normal below 60 %, Warning 60–79 %, Critical from 80 %.
const (
	PressureNormal Pressure = iota
	PressureWarning
	PressureCritical
)

func (p Pressure) String() string {
	switch p {
	case PressureWarning:
		return "warning"
	case PressureCritical:
		return "critical"
	}
	return "normal"
}

// Stats is a snapshot of the whole manager.
type Stats struct {
	Profile string
	Backend string // "mock" or "disk"

	SectorsTotal, SectorsFree, SectorsUsed int
	SectorSize                             int
	UtilizationPct                         float64
	Pressure                               Pressure
	Allocations, AllocationFailures, Frees uint64
	RejectedWrites                         uint64 // writes refused with ErrFull

	// SpaceEfficiencyPct is sample bytes (4 per TSD sample, 12 per event:
	// value and timestamp) over the bytes of the sectors holding them: the
	// original system's measure, 75 % for full sectors there. Delta-coded
	// events can take it past 100 %.
	SpaceEfficiencyPct float64
	StoredRecords      uint64 // records in the pool, acknowledged-but-unfreed included

	Streams       int // configured
	ActiveStreams int // holding unacknowledged records
	New, Pending  uint64
	Drops         Drops

	Footprint    int // bytes the manager holds
	PoweringDown bool
	UTCAvailable bool

	// Disk tier (zero for the mock backend).
	DiskBytes        int64  // bytes in segment files
	DiskFiles        int    // segment files
	DiskRecords      uint64 // unacknowledged records in the disk parts
	DiskError        string // the last disk error while it lasts ("" when healthy)
	DiskFull         bool   // that error was ENOSPC: writes fall back to the RAM policy
	RecordsRecovered uint64 // unacknowledged records found at Open
	RecordsSkipped   uint64 // records in damaged frames skipped at Open
	FramesSkipped    uint64
	BytesWritten     uint64 // bytes written to disk (flash wear)
	Syncs            uint64 // fsyncs of files and directories
	// Checkpoints counts the checkpoints made durable since Open. The one
	// made when the journal is half full is written and synced by a
	// goroutine of its own after its snapshot: CheckpointsStarted counts
	// snapshots taken, and DurableCheckpoint says which of them (1 = the
	// first) the newest durable checkpoint holds, 0 before the first. A
	// record written before a snapshot whose ordinal is at most
	// DurableCheckpoint survives a power cut.
	Checkpoints        uint64
	CheckpointsStarted uint64
	DurableCheckpoint  uint64
}

// StreamStats is a snapshot of one stream.
type StreamStats struct {
	ID     StreamID
	Kind   Kind
	Period int64 // ms, TSD only
	Counts Counts
	// Sequence positions: Acked ≤ Read ≤ Written. Acked is the newest
	// acknowledged (or dropped) record's number, Read the newest pending
	// one's (Acked + Pending, plus the numbers of any records dropped from
	// behind the batch in flight, which it crossed),
	// Written the newest record's number. On the disk backend numbers can
	// have gaps (records dropped at the disk cap, or destroyed by a crash
	// and skipped by the reservation), so Written − Acked may exceed Total.
	// After a power cut, numbers above what a reader was shown may be
	// given to new records (docs/durability.md): a reader never sees a
	// number twice, Written may go back.
	Acked, Read, Written uint64
	SectorsRAM           int
	SectorsDisk          int
	// OldestUnackedMs is the timestamp of the oldest unacknowledged record;
	// valid only when HasUnacked.
	OldestUnackedMs int64
	HasUnacked      bool
	Drops           Drops
}

// Stats returns a snapshot of the manager. It walks every stream (not a hot path).
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pool
	st := Stats{
		Profile: m.opts.Profile.Name, Backend: "mock",
		SectorsTotal: p.Len(), SectorsFree: p.Free(), SectorsUsed: p.Used(), SectorSize: p.SectorSize(),
		Allocations: m.allocs, AllocationFailures: m.allocFails, Frees: m.frees, RejectedWrites: m.rejected,
		Streams: m.nStream, Drops: m.drops, Footprint: m.footprint(),
		PoweringDown: m.powering, UTCAvailable: m.utcOK,
	}
	st.UtilizationPct = 100 * float64(st.SectorsUsed) / float64(st.SectorsTotal)
	st.Pressure = pressureOf(st.UtilizationPct)
	var sampleBytes uint64
	for _, x := range m.index {
		s := m.at(x)
		stored := uint64(s.headSkip) + uint64(s.ramAvail())
		st.StoredRecords += stored
		if s.kind == TSD {
			sampleBytes += 4 * stored
		} else {
			sampleBytes += 12 * stored
		}
		st.New += uint64(s.unread)
		st.Pending += uint64(s.pending)
		if s.pending+s.unread > 0 {
			st.ActiveStreams++
		}
	}
	if d := m.disk; d != nil {
		d.stats(&st)
	}
	if st.SectorsUsed > 0 {
		st.SpaceEfficiencyPct = 100 * float64(sampleBytes) / float64(st.SectorsUsed*st.SectorSize)
	}
	return st
}

func pressureOf(pct float64) Pressure {
	switch {
	case pct >= 80:
		return PressureCritical
	case pct >= 60:
		return PressureWarning
	}
	return PressureNormal
}

// Stats returns a snapshot of the stream.
func (s *Stream) Stats() StreamStats {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	st := StreamStats{
		ID: s.ID(), Kind: s.kind, Period: int64(s.periodMs), Counts: s.counts(),
		Acked: s.acked, Read: s.readSeq(), Written: s.written(),
	}
	if d := s.m.disk; d != nil {
		d.streamStats(s, &st)
	}
	for r := range numDropReasons {
		st.Drops.add(r, uint64(s.drops[r]))
	}
	p := s.m.pool
	for id := s.head; id != pool.Nil && st.SectorsRAM <= p.Len(); id = p.Next(id) {
		st.SectorsRAM++
	}
	if s.ramAvail() > 0 {
		c := s.seek(int(s.headSkip))
		var seq uint64
		st.OldestUnackedMs = s.next(&c, &seq).UTCms
		st.HasUnacked = true
	} else if s.pending+s.unread > 0 {
		if r, err := s.m.disk.oldest(s); err == nil {
			st.OldestUnackedMs, st.HasUnacked = r.UTCms, true
		}
	}
	return st
}

// Footprint reports every byte the manager holds: the pool and its chain
// table, the stream table and its index, and the manager itself.
func (m *Manager) Footprint() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.footprint()
}

func (m *Manager) footprint() int {
	n := int(unsafe.Sizeof(Manager{})) + int(unsafe.Sizeof(pool.Pool{})) + m.pool.Bytes()
	for _, c := range m.chunks {
		n += cap(c) * int(unsafe.Sizeof(Stream{}))
	}
	n += cap(m.chunks)*int(unsafe.Sizeof([]Stream{})) + 2*cap(m.index)
	if m.disk != nil {
		n += int(unsafe.Sizeof(diskTier{})) + m.disk.memBytes()
	}
	return n
}

// worstFootprint is the footprint with every stream of the profile configured.
func (m *Manager) worstFootprint() int {
	most := m.opts.Profile.MaxStreams
	n := m.footprint()
	if len(m.chunks) == 0 {
		chunks := (most + streamChunk - 1) / streamChunk
		n += chunks*streamChunk*int(unsafe.Sizeof(Stream{})) + chunks*int(unsafe.Sizeof([]Stream{}))
	}
	if cap(m.index) < most {
		n += 2 * most
	}
	return n
}

// sectorRecords is how many records fit a sector of the stream's kind at most
// (TSD exactly; EVT at the smallest event size).
func sectorRecords(k Kind, size int) int {
	if k == TSD {
		return layout.TSDCap(size)
	}
	return (size - layout.HeaderSize) / 5
}
