// Package journal is the store's crash journal: two preallocated files,
// mapped into memory, that take a compact entry for every change made since
// the last checkpoint. An entry is a store into shared memory, so it is in
// the operating system's page cache when the call that made it returns: a
// process crash (kill -9, a panic, an OOM kill) loses nothing, and no
// system call is made per entry. Sync (msync) makes entries durable against
// a power cut, for the sync policies that promise it.
//
// The two files alternate: the entries after checkpoint generation g go to
// epoch g, in file g%2. Each file starts with a header naming its epoch and
// the boot it was written in; each entry carries a CRC-32C seeded with the
// epoch, so entries left over from an older epoch, or torn by a power cut,
// end the replay. The format is in docs/format.md.
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path"

	"github.com/mm2go/mm2/vfs"
)

// Format constants.
const (
	Magic      = 0x4a324d4d // "MM2J" little-endian
	Version    = 1
	HeaderSize = 64
	// MaxEntry is the largest entry payload.
	MaxEntry = 255
	// entryOverhead is the length byte and the CRC of an entry.
	entryOverhead = 1 + 4
	// reserve is kept free by Append for AppendFinal.
	reserve = 64
	maxBoot = 40
	// MinSize is the smallest file size Open accepts.
	MinSize = 4096
)

// Names are the two journal files.
var Names = [2]string{"journal-0.mm2", "journal-1.mm2"}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFull is returned by Append when the epoch's file has no room left.
var ErrFull = errors.New("journal: full")

// Journal is the writing side. It is not safe for concurrent use; the
// store calls it under its lock.
type Journal struct {
	maps  [2]vfs.Mapping
	size  int
	epoch uint64
	cur   []byte // the epoch's file
	off   int    // end of the last entry
	seed  uint32 // CRC seed of the epoch
	// synced is the end of the last entry made durable in this epoch (0:
	// not even the header yet). A sync range ends at the last entry: the
	// bytes after it may be changing (the next append), and the replay
	// needs no end mark (what follows fails its check).
	synced int
	// Appended counts the bytes of every entry ever appended (all epochs):
	// the journal's share of the bytes written to the device.
	Appended uint64
}

// Open maps the two journal files in dir, each size bytes, creating them
// (preallocated) when missing. Nothing is written until Start.
func Open(fsys vfs.FS, dir string, size int) (*Journal, error) {
	if dir == "" {
		dir = "."
	}
	if size < MinSize {
		return nil, fmt.Errorf("journal: size %d under %d", size, MinSize)
	}
	j := &Journal{size: size}
	for i, name := range Names {
		mp, err := vfs.Map(fsys, path.Join(dir, name), size)
		if err != nil {
			j.Close()
			return nil, err
		}
		j.maps[i] = mp
	}
	if err := fsys.SyncDir(dir); err != nil { // the files must outlive a power cut
		j.Close()
		return nil, err
	}
	return j, nil
}

// Close unmaps the files.
func (j *Journal) Close() error {
	var errs []error
	for i, mp := range j.maps {
		if mp != nil {
			errs = append(errs, mp.Close())
			j.maps[i] = nil
		}
	}
	j.cur = nil
	return errors.Join(errs...)
}

// Start begins epoch e in file e%2: it writes the file's header (with the
// boot ID) and an empty first entry. Entries of the epoch the file held
// before no longer verify.
func (j *Journal) Start(e uint64, boot string, flags uint8) {
	j.epoch = e
	j.cur = j.maps[e%2].Bytes()
	j.seed = seed(e)
	putHeader(j.cur, e, boot, flags)
	j.off = HeaderSize
	j.cur[j.off] = 0
	j.synced = 0
}

// Resume goes on appending to epoch e after its entries, which end at end
// (from Scan): for a writer that could not start a new epoch.
func (j *Journal) Resume(e uint64, end int) {
	j.epoch = e
	j.cur = j.maps[e%2].Bytes()
	j.seed = seed(e)
	j.off = max(end, HeaderSize)
	j.cur[j.off] = 0
	j.synced = 0
}

// Epoch is the epoch being written.
func (j *Journal) Epoch() uint64 { return j.epoch }

// Append adds one entry. It returns ErrFull, adding nothing, when the file
// has no room for it (a few bytes stay free for AppendFinal).
func (j *Journal) Append(p []byte) error { return j.append(p, reserve) }

// AppendFinal adds one last small entry in the room Append keeps free: how
// a writer that can go no further says so to the replay.
func (j *Journal) AppendFinal(p []byte) error { return j.append(p, 0) }

func (j *Journal) append(p []byte, keep int) error {
	if len(p) == 0 || len(p) > MaxEntry {
		panic("journal: entry size out of range")
	}
	end := j.off + entryOverhead + len(p)
	if end+1+keep > len(j.cur) {
		return ErrFull
	}
	b := j.cur[j.off:end]
	b[0] = byte(len(p))
	copy(b[1:], p)
	crc := crc32.Update(j.seed, castagnoli, b[:1+len(p)])
	binary.LittleEndian.PutUint32(b[1+len(p):], crc)
	if end < len(j.cur) {
		j.cur[end] = 0 // a clean end for the replay, even over an older epoch
	}
	j.off = end
	j.Appended += uint64(entryOverhead + len(p))
	return nil
}

// Capacity is how many entries of at least minEntry payload bytes a file
// can hold: no more changes than that are made after a checkpoint.
func Capacity(size, minEntry int) uint64 {
	if size <= HeaderSize {
		return 0
	}
	return uint64((size - HeaderSize) / (entryOverhead + minEntry))
}

// Off is where the next entry goes.
func (j *Journal) Off() int { return j.off }

// UsedOver reports whether more than percent % of the epoch's file is in
// use (a check made after every change: no division).
func (j *Journal) UsedOver(percent int) bool { return j.off*100 > len(j.cur)*percent }

// Dirty reports whether entries were appended since the last Sync.
func (j *Journal) Dirty() bool { return j.off > j.synced }

// Pending returns the range Sync would make durable, for a caller that
// syncs outside its lock with SyncRange.
func (j *Journal) Pending() (epoch uint64, from, to int) { return j.epoch, j.synced, j.off }

// SyncRange makes bytes [from, to) of epoch e's file durable. It touches no
// field of j, so it may run without the caller's lock while appends go on.
func (j *Journal) SyncRange(e uint64, from, to int) error {
	mp := j.maps[e%2]
	if from > 0 {
		// The header was written with the first entries: include it once.
		return mp.Sync(from, to-from)
	}
	return mp.Sync(0, to)
}

// Synced records that a SyncRange of epoch e up to to succeeded.
func (j *Journal) Synced(e uint64, to int) {
	if e == j.epoch {
		j.synced = max(j.synced, min(to, j.off))
	}
}

// Covers reports whether what was appended up to to in epoch e is durable:
// synced, or in an older epoch (a checkpoint holds it).
func (j *Journal) Covers(e uint64, to int) bool { return j.epoch != e || j.synced >= to }

// Sync makes every entry appended so far durable.
func (j *Journal) Sync() error {
	e, from, to := j.Pending()
	if j.Covers(e, to) && from > 0 {
		return nil
	}
	if err := j.SyncRange(e, from, to); err != nil {
		return err
	}
	j.Synced(e, to)
	return nil
}

func seed(e uint64) uint32 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], e)
	return crc32.Checksum(b[:], castagnoli)
}

func putHeader(b []byte, e uint64, boot string, flags uint8) {
	clear(b[:HeaderSize])
	binary.LittleEndian.PutUint32(b[0:], Magic)
	b[4] = Version
	b[5] = flags
	binary.LittleEndian.PutUint64(b[8:], e)
	if len(boot) > maxBoot {
		boot = boot[:maxBoot]
	}
	b[16] = byte(len(boot))
	copy(b[17:], boot)
	binary.LittleEndian.PutUint32(b[HeaderSize-4:], crc32.Checksum(b[:HeaderSize-4], castagnoli))
}

// Header is a journal file's header.
type Header struct {
	Epoch uint64
	Boot  string
	Flags uint8 // the writer's; FlagDurable: every entry was synced before its call returned
}

// FlagDurable says the writer synced every entry before the call that made
// it returned (SyncAlways): a power cut lost no returned change.
const FlagDurable = 1

// Errors of the reader.
var (
	ErrMagic   = errors.New("journal: bad magic")
	ErrVersion = errors.New("journal: unknown version")
	ErrHeader  = errors.New("journal: damaged header")
)

// ParseHeader decodes the header of a journal file.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, ErrHeader
	}
	if binary.LittleEndian.Uint32(b) != Magic {
		return Header{}, ErrMagic
	}
	if crc32.Checksum(b[:HeaderSize-4], castagnoli) != binary.LittleEndian.Uint32(b[HeaderSize-4:]) {
		return Header{}, ErrHeader
	}
	if b[4] != Version {
		return Header{}, fmt.Errorf("%w %d", ErrVersion, b[4])
	}
	n := int(b[16])
	if n > maxBoot {
		return Header{}, ErrHeader
	}
	return Header{Epoch: binary.LittleEndian.Uint64(b[8:]), Boot: string(b[17 : 17+n]), Flags: b[5]}, nil
}

// Entries calls fn with every entry of a journal file of epoch e, in order,
// up to the first that is missing, torn or from another epoch, and returns
// how many it found. A file whose header names another epoch has none.
func Entries(b []byte, e uint64, fn func(p []byte)) int {
	n, _ := Scan(b, e, fn)
	return n
}

// Scan is Entries that also returns where the entries end (0 when the file
// holds no epoch e).
func Scan(b []byte, e uint64, fn func(p []byte)) (n, end int) {
	return ScanFrom(b, e, HeaderSize, fn)
}

// ScanFrom is Scan from offset from (where an earlier scan ended, or the
// journal position a checkpoint names).
func ScanFrom(b []byte, e uint64, from int, fn func(p []byte)) (n, end int) {
	h, err := ParseHeader(b)
	if err != nil || h.Epoch != e || from < HeaderSize || from > len(b) {
		return 0, 0
	}
	sd := seed(e)
	off := from
	for ; off < len(b); n++ {
		l := int(b[off])
		next := off + entryOverhead + l
		if l == 0 || next > len(b) {
			break
		}
		crc := crc32.Update(sd, castagnoli, b[off:off+1+l])
		if crc != binary.LittleEndian.Uint32(b[off+1+l:]) {
			break
		}
		fn(b[off+1 : off+1+l])
		off = next
	}
	return n, off
}
