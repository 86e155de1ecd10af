package vfs

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
)

// CrashMode says what a simulated power cut keeps of the work that was not
// yet durable. Every mode keeps everything that was durable.
type CrashMode int

const (
	// CrashSynced keeps only synced file data and synced directory
	// operations: the least a correct filesystem may leave.
	CrashSynced CrashMode = iota
	// CrashSubset keeps, per file, a random subsequence of the unsynced
	// writes and truncations, replayed in order: an append lands at the end
	// of what survived before it, so surviving appends sit end to end with
	// the lost ones missing between them, while a write at an offset lands
	// at that offset. Each unsynced directory operation survives or not
	// independently.
	CrashSubset
	// CrashTornTail keeps, per file, the unsynced writes and truncations up
	// to a random point in order, the last kept write cut at a random byte,
	// and a random prefix, in order, of the unsynced directory operations.
	// A file written only by appends is left with a prefix of what was
	// written.
	CrashTornTail
	// CrashReorder keeps, per file, a random subset of the unsynced writes
	// and truncations, each write at the offset it was made at, as a disk
	// that reordered its writes would: the places of lost writes read as
	// zeros where nothing synced was there before, and the file is as long
	// as its synced data and surviving writes make it. Each unsynced
	// directory operation survives or not independently.
	CrashReorder
)

// CrashModes returns every CrashMode, for tests that try them all.
func CrashModes() []CrashMode {
	return []CrashMode{CrashSynced, CrashSubset, CrashTornTail, CrashReorder}
}

func (c CrashMode) String() string {
	switch c {
	case CrashSynced:
		return "synced"
	case CrashSubset:
		return "subset"
	case CrashTornTail:
		return "torn-tail"
	case CrashReorder:
		return "reorder"
	}
	return fmt.Sprintf("CrashMode(%d)", int(c))
}

// CrashClone returns a new MemFS holding what a machine would find after a
// power cut at this instant, according to mode. Random choices come from
// rng only, so the same state, mode and seed give the same result; a nil
// rng is a fixed seed. Open handles are not carried over, m is left as it
// is, and everything in the clone is durable.
func (m *MemFS) CrashClone(mode CrashMode, rng *rand.Rand) *MemFS {
	if rng == nil {
		rng = rand.New(rand.NewPCG(1, 1))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := crasher{mode: mode, rng: rng, edits: map[*node][]dirEdit{}, done: map[*node]*node{}}
	for _, op := range c.survivingDirOps(m.pending) {
		for _, e := range op.edits {
			c.edits[e.dir] = append(c.edits[e.dir], e)
		}
	}
	return &MemFS{root: c.clone(m.root), boot: fmt.Sprintf("%s/%x", m.boot, rng.Uint64())}
}

type crasher struct {
	mode  CrashMode
	rng   *rand.Rand
	edits map[*node][]dirEdit // surviving unsynced edits per directory, in order
	done  map[*node]*node     // original node to its clone, so links stay shared
}

func (c *crasher) survivingDirOps(ops []*dirOp) []*dirOp {
	switch c.mode {
	case CrashSubset, CrashReorder:
		var kept []*dirOp
		for _, op := range ops {
			if c.coin() {
				kept = append(kept, op)
			}
		}
		return kept
	case CrashTornTail:
		return ops[:c.rng.IntN(len(ops)+1)]
	}
	return nil
}

func (c *crasher) coin() bool { return c.rng.IntN(2) == 0 }

// clone returns the crashed copy of n. Directories are visited in name
// order so that the use of rng is deterministic.
func (c *crasher) clone(n *node) *node {
	if d, ok := c.done[n]; ok {
		return d
	}
	out := &node{dir: n.dir}
	c.done[n] = out
	if !n.dir {
		out.data = c.contents(n)
		out.synced = slices.Clone(out.data)
		return out
	}
	entries := maps.Clone(n.durable)
	for _, e := range c.edits[n] {
		setEntry(entries, e.name, e.child)
	}
	out.children = make(map[string]*node, len(entries))
	out.durable = make(map[string]*node, len(entries))
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		child := c.clone(entries[name])
		out.children[name] = child
		out.durable[name] = child
	}
	return out
}

// contents returns what survives of file n.
func (c *crasher) contents(n *node) []byte {
	if n.mapped {
		return c.mappedContents(n)
	}
	data := slices.Clone(n.synced)
	switch c.mode {
	case CrashSubset:
		for _, op := range n.pending {
			if !c.coin() {
				continue
			}
			if op.append {
				op.off = int64(len(data))
			}
			data = replay(data, op)
		}
	case CrashTornTail:
		k := c.rng.IntN(len(n.pending) + 1)
		for i, op := range n.pending[:k] {
			if i == k-1 && !op.trunc {
				op.data = op.data[:c.rng.IntN(len(op.data)+1)]
			}
			data = replay(data, op)
		}
	case CrashReorder:
		for _, op := range n.pending {
			if c.coin() {
				data = replay(data, op)
			}
		}
	}
	return data
}

// replay applies op to data, zero-filling any gap.
func replay(data []byte, op fileOp) []byte {
	if op.trunc {
		return resize(data, op.off)
	}
	if end := op.off + int64(len(op.data)); end > int64(len(data)) {
		data = resize(data, end)
	}
	copy(data[op.off:], op.data)
	return data
}

// mapPage is the unit in which the kernel writes a mapping's dirty memory back.
const mapPage = 4096

// mappedContents returns what survives of a mapped file: its synced bytes,
// and of every page written since, what the mode keeps (CrashTornTail: the
// changed pages up to a random one, that one cut at a random byte).
func (c *crasher) mappedContents(n *node) []byte {
	data := resize(slices.Clone(n.synced), int64(len(n.data)))
	var dirty []int
	for off := 0; off < len(n.data); off += mapPage {
		end := min(off+mapPage, len(n.data))
		if !slices.Equal(data[off:end], n.data[off:end]) {
			dirty = append(dirty, off)
		}
	}
	switch c.mode {
	case CrashSubset, CrashReorder:
		for _, off := range dirty {
			if c.coin() {
				copy(data[off:min(off+mapPage, len(data))], n.data[off:])
			}
		}
	case CrashTornTail:
		k := c.rng.IntN(len(dirty) + 1)
		for i, off := range dirty[:k] {
			end := min(off+mapPage, len(data))
			if i == k-1 {
				end = off + c.rng.IntN(end-off+1)
			}
			copy(data[off:end], n.data[off:end])
		}
	}
	return data
}
