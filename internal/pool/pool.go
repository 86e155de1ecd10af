// Package pool is the fixed sector pool of the memory manager: one byte array
// allocated once, a free list, and a chain table kept apart from the payload.
//
// Sector ids start at 1; 0 is Nil, so a zero-valued chain pointer is empty.
// The chain table holds, per sector, the next link and the record count.
// Ownership is chain membership: a sector belongs to the stream whose chain
// reaches it, or to the free list, and the manager's Check verifies that every
// sector is reached exactly once. There is no separate owner field to drift
// from the truth.
//
// Wide pools (32-bit sector ids, the linux profile) pack the link and the
// count in one uint32 per sector: 24 bits of link and 8 bits of count, so the
// chain table costs 4 bytes per 32-byte sector (12.5 %). Narrow pools (16-bit
// ids, the MCU profiles) use a uint16 link and a uint8 count: 3 bytes.
package pool

import (
	"errors"
	"fmt"
)

// Nil is the id of no sector.
const Nil uint32 = 0

// MaxWideSectors is the largest pool with 32-bit ids: links are 24 bits wide
// in the packed chain table (16 M sectors, 512 MB of 32-byte sectors).
const MaxWideSectors = 1<<24 - 1

// MaxNarrowSectors is the largest pool with 16-bit ids.
const MaxNarrowSectors = 1<<16 - 1

// MaxCount is the largest record count a sector can hold in the chain table.
const MaxCount = 255

// Pool is a fixed set of equal-sized sectors. It is not safe for concurrent
// use; the manager serialises access.
type Pool struct {
	data   []byte
	size   int
	n      uint32
	wide   bool
	link32 []uint32 // wide: next<<8 | count
	link16 []uint16 // narrow: next
	count8 []uint8  // narrow: count
	free   uint32   // head of the free list, linked through next
	nFree  uint32
}

// New allocates a pool of n sectors of size bytes each.
func New(n, size int, wide bool) (*Pool, error) {
	limit := MaxNarrowSectors
	if wide {
		limit = MaxWideSectors
	}
	if n < 1 || n > limit {
		return nil, fmt.Errorf("pool: %d sectors out of range 1..%d", n, limit)
	}
	if size < 1 {
		return nil, errors.New("pool: sector size must be positive")
	}
	p := &Pool{data: make([]byte, n*size), size: size, n: uint32(n), wide: wide}
	if wide {
		p.link32 = make([]uint32, n)
	} else {
		p.link16 = make([]uint16, n)
		p.count8 = make([]uint8, n)
	}
	// Free list in id order so a fresh pool hands out 1, 2, 3, ...
	for id := uint32(n); id >= 1; id-- {
		p.setNext(id, p.free)
		p.free = id
	}
	p.nFree = uint32(n)
	return p, nil
}

// Len is the number of sectors.
func (p *Pool) Len() int { return int(p.n) }

// SectorSize is the payload bytes per sector.
func (p *Pool) SectorSize() int { return p.size }

// Free is the number of free sectors.
func (p *Pool) Free() int { return int(p.nFree) }

// Used is the number of allocated sectors.
func (p *Pool) Used() int { return int(p.n - p.nFree) }

// Valid reports whether id names a sector of this pool.
func (p *Pool) Valid(id uint32) bool { return id >= 1 && id <= p.n }

// Bytes is what the pool holds: payload plus chain table.
func (p *Pool) Bytes() int { return len(p.data) + p.MetaBytes() }

// MetaBytes is the size of the chain table.
func (p *Pool) MetaBytes() int {
	if p.wide {
		return 4 * cap(p.link32)
	}
	return 2*cap(p.link16) + cap(p.count8)
}

// Alloc takes a sector off the free list, with next=Nil and count=0.
// It returns Nil when the pool is exhausted.
func (p *Pool) Alloc() uint32 {
	id := p.free
	if id == Nil {
		return Nil
	}
	p.free = p.Next(id)
	p.nFree--
	p.setNext(id, Nil)
	p.SetCount(id, 0)
	return id
}

// Release puts a sector back on the free list. The caller must have unlinked
// it from its chain.
func (p *Pool) Release(id uint32) {
	if !p.Valid(id) {
		panic(fmt.Sprintf("pool: release of invalid sector %d", id))
	}
	p.SetCount(id, 0)
	p.setNext(id, p.free)
	p.free = id
	p.nFree++
}

// FreeHead is the first sector of the free list (for Check).
func (p *Pool) FreeHead() uint32 { return p.free }

// Sector is the payload of sector id.
func (p *Pool) Sector(id uint32) []byte {
	off := int(id-1) * p.size
	return p.data[off : off+p.size : off+p.size]
}

// Next is the link of sector id (Nil's link is Nil).
func (p *Pool) Next(id uint32) uint32 {
	if id == Nil {
		return Nil
	}
	if p.wide {
		return p.link32[id-1] >> 8
	}
	return uint32(p.link16[id-1])
}

// SetNext links sector id to next.
func (p *Pool) SetNext(id, next uint32) { p.setNext(id, next) }

func (p *Pool) setNext(id, next uint32) {
	if p.wide {
		p.link32[id-1] = next<<8 | p.link32[id-1]&0xff
		return
	}
	p.link16[id-1] = uint16(next)
}

// Count is the number of records in sector id (Nil holds none).
func (p *Pool) Count(id uint32) int {
	if id == Nil {
		return 0
	}
	if p.wide {
		return int(p.link32[id-1] & 0xff)
	}
	return int(p.count8[id-1])
}

// SetCount sets the record count of sector id (0..MaxCount).
func (p *Pool) SetCount(id uint32, c int) {
	if p.wide {
		p.link32[id-1] = p.link32[id-1]&^0xff | uint32(c)
		return
	}
	p.count8[id-1] = uint8(c)
}

// CopyTo makes dst an exact copy of p: sectors, chains and free list. It
// reuses dst's memory when dst has p's shape and returns dst, or a new pool
// when dst is nil or shaped otherwise. The copy can then be read while p
// changes (a checkpoint encodes the RAM tier from one outside the lock).
func (p *Pool) CopyTo(dst *Pool) *Pool {
	if dst == nil || dst.n != p.n || dst.size != p.size || dst.wide != p.wide {
		dst = &Pool{data: make([]byte, len(p.data)), size: p.size, n: p.n, wide: p.wide}
		if p.wide {
			dst.link32 = make([]uint32, len(p.link32))
		} else {
			dst.link16, dst.count8 = make([]uint16, len(p.link16)), make([]uint8, len(p.count8))
		}
	}
	copy(dst.data, p.data)
	copy(dst.link32, p.link32)
	copy(dst.link16, p.link16)
	copy(dst.count8, p.count8)
	dst.free, dst.nFree = p.free, p.nFree
	return dst
}
