package mm2

import (
	"errors"
	"fmt"
	"math"

	"github.com/mm2go/mm2/internal/layout"
	"github.com/mm2go/mm2/internal/pool"
)

// Check walks every sector and stream and returns every invariant violation
// found, joined with errors.Join, or nil. It verifies that each sector is
// free or in exactly one chain (so free + used = pool and no sector is owned
// twice), that chains are acyclic and end at their tail, that every sector
// decodes as its stream's kind, that record counts match the stream's
// sequence positions, that the read cursor sits where acked+pending says,
// and that the manager's counters agree with the streams'. Walks are bounded
// by the pool size. On the disk backend it also checks every segment's
// frames against the streams' counts; it reads them without the manager's
// lock, so writers wait only for the RAM part and a copy of the counts
// (checkdisk.go). Check allocates a visit map; it is for tests and
// diagnostics, not the hot path.
func (m *Manager) Check() error {
	m.mu.Lock()
	errs := m.check()
	var dc *diskCheck
	if m.disk != nil {
		dc = m.disk.captureDisk()
	}
	m.mu.Unlock()
	if dc != nil {
		errs = append(errs, m.disk.checkDisk(dc)...)
	}
	return errors.Join(errs...)
}

func (m *Manager) check() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	p := m.pool
	n := p.Len()
	owner := make([]int32, n+1) // 0 unvisited, -1 free list, i+1 stream i
	free := 0
	for id, steps := p.FreeHead(), 0; id != pool.Nil; id, steps = p.Next(id), steps+1 {
		if !p.Valid(id) || steps >= n {
			bad("free list: invalid sector %d or cycle after %d steps", id, steps)
			break
		}
		if owner[id] != 0 {
			bad("free list: sector %d reached twice", id)
			break
		}
		owner[id] = -1
		free++
	}
	if free != p.Free() {
		bad("free list holds %d sectors, pool counts %d free", free, p.Free())
	}
	var drops Drops
	used, gaps := 0, 0
	for i := 0; i < m.nStream; i++ {
		s := m.at(uint16(i))
		used += m.checkStream(s, owner, &gaps, bad)
		for r := range numDropReasons {
			drops.add(r, uint64(s.drops[r]))
		}
	}
	if gaps != m.gapSecs {
		bad("chains hold %d gap sectors, the manager counts %d", gaps, m.gapSecs)
	}
	if free+used != n {
		bad("pool: %d free + %d in chains != %d sectors (leak)", free, used, n)
	}
	if uint64(p.Used()) != m.allocs-m.frees {
		bad("pool: %d used but %d allocations - %d frees", p.Used(), m.allocs, m.frees)
	}
	if drops != m.drops && !m.dropsSaturated() {
		bad("drops: streams sum to %+v, manager counts %+v", drops, m.drops)
	}
	if len(m.index) != m.nStream {
		bad("index: %d entries for %d streams", len(m.index), m.nStream)
	}
	for i := 1; i < len(m.index); i++ {
		if !m.at(m.index[i-1]).ID().less(m.at(m.index[i]).ID()) {
			bad("index: not strictly sorted at %d", i)
		}
	}
	return errs
}

func (m *Manager) dropsSaturated() bool {
	for i := 0; i < m.nStream; i++ {
		for _, d := range m.at(uint16(i)).drops {
			if d == math.MaxUint32 {
				return true
			}
		}
	}
	return false
}

// checkStream verifies one stream's chain and positions and returns how many
// sectors its chain holds.
func (m *Manager) checkStream(s *Stream, owner []int32, gaps *int, bad func(string, ...any)) int {
	p := m.pool
	id := s.ID()
	if s.head == pool.Nil {
		if s.tail != pool.Nil || s.readSec != pool.Nil || s.ramAvail() != 0 || s.headSkip != 0 {
			bad("%v: empty chain but tail=%d read=%d ram records=%d skip=%d",
				id, s.tail, s.readSec, s.ramAvail(), s.headSkip)
		}
		return 0
	}
	capacity := sectorRecords(s.kind, p.SectorSize())
	records, sectors, pos := 0, 0, -1
	last := pool.Nil
	for sec := s.head; sec != pool.Nil; sec = p.Next(sec) {
		if !p.Valid(sec) || sectors >= p.Len() {
			bad("%v: invalid sector %d or cycle after %d sectors", id, sec, sectors)
			return sectors
		}
		switch o := owner[sec]; {
		case o == -1:
			bad("%v: sector %d is in the chain and on the free list", id, sec)
			return sectors
		case o != 0:
			bad("%v: sector %d also reached from stream #%d", id, sec, o-1)
			return sectors
		}
		owner[sec] = int32(s.idx) + 1
		sectors++
		c := p.Count(sec)
		if c == 0 {
			*gaps++
			switch {
			case sec == s.head:
				bad("%v: gap sector %d is the head (its numbers belong in acked)", id, sec)
			case m.isGap(last):
				bad("%v: gap sectors %d and %d are adjacent", id, last, sec)
			case m.gapOf(sec) == 0:
				bad("%v: gap sector %d stands for no record", id, sec)
			}
		} else if c > capacity {
			bad("%v: sector %d holds %d records (1..%d allowed)", id, sec, c, capacity)
		}
		end := m.checkSectorDecodes(s, sec, c, bad)
		if sec == s.tail && c > 0 && s.kind == EVT && end != int(s.tailUsed) {
			bad("%v: tail sector %d ends at byte %d, stream says %d", id, sec, end, s.tailUsed)
		}
		if sec == s.readSec {
			pos = records + int(s.readIdx)
			if int(s.readIdx) > c {
				bad("%v: read index %d beyond %d records of sector %d", id, s.readIdx, c, sec)
			} else if s.kind == EVT {
				if off, err := layout.EVTOffset(p.Sector(sec), int(s.readIdx)); err != nil || off != int(s.readOff) {
					bad("%v: read offset %d, record %d is at %d", id, s.readOff, s.readIdx, off)
				}
			}
		}
		records += c
		last = sec
	}
	if last != s.tail {
		bad("%v: chain ends at %d, tail is %d", id, last, s.tail)
	}
	if pos < 0 {
		bad("%v: read cursor sector %d is not in the chain", id, s.readSec)
	} else if want := int(s.headSkip) + min(int(s.pending), s.ramAvail()); pos != want {
		bad("%v: read cursor at record %d, acked+pending says %d", id, pos, want)
	}
	if int(s.headSkip) >= p.Count(s.head) {
		bad("%v: %d acknowledged records fill the head sector, which should be free", id, s.headSkip)
	}
	if records != int(s.headSkip)+s.ramAvail() {
		bad("%v: chain holds %d records, skip %d + %d unacknowledged in RAM",
			id, records, s.headSkip, s.ramAvail())
	}
	return sectors
}

// checkSectorDecodes decodes all c records of a sector as the stream's kind
// and returns the end offset.
func (m *Manager) checkSectorDecodes(s *Stream, sec uint32, c int, bad func(string, ...any)) int {
	if s.kind == TSD {
		return layout.HeaderSize + 4*c
	}
	off, err := layout.EVTOffset(m.pool.Sector(sec), c)
	if err != nil {
		bad("%v: sector %d does not decode as %d events: %v", s.ID(), sec, c, err)
	}
	return off
}
