package spool

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mm2go/mm2/vfs"
)

// Segment is the in-memory index of one segment file: O(1) fields plus the
// sorted stream indexes it holds frames of (at most one per frame, and a
// segment holds a bounded number of frames).
type Segment struct {
	No      uint64
	Size    int64    // bytes of the file that are read: up to the end of its last good frame
	Live    int      // unacknowledged records in it; use Unacked and AddLive
	Streams []uint16 // stream table indexes with frames here, sorted

	holes []span // damaged ranges reads skip: left by recovery, or found by a read
	file  string // file name when not SegmentName(No) (an unpublished rewrite)
	// unreadable counts the reads of the segment that failed (EIO) since
	// one last succeeded: a failing block becomes a hole only once it
	// keeps failing (maxUnreadable), so a passing error loses nothing.
	unreadable int
	// wrote is the log's write count at the last change of the file
	// (Append, or a cut of a frame): what a sync started before it does
	// not cover.
	wrote uint64
}

// maxUnreadable is how many failed reads of a range make it a hole.
const maxUnreadable = 3

// Unacked is the number of unacknowledged records in the segment.
func (s *Segment) Unacked() int { return s.Live }

// AddLive adds n (negative when records are acknowledged or dropped) to the
// segment's unacknowledged records.
func (s *Segment) AddLive(n int) { s.Live += n }

// Damaged reports whether the segment is used with damage left in place
// (recovery could not repair it or did not try, or a read found it since):
// reads skip the damage.
func (s *Segment) Damaged() bool { return len(s.holes) > 0 || s.file != "" }

// addHole records a damaged range for reads to skip, keeping the ranges
// sorted and apart.
func (s *Segment) addHole(h span) {
	i := sort.Search(len(s.holes), func(i int) bool { return s.holes[i].End >= h.Off })
	j := i
	for j < len(s.holes) && s.holes[j].Off <= h.End {
		h = span{min(h.Off, s.holes[j].Off), max(h.End, s.holes[j].End)}
		j++
	}
	s.holes = slices.Replace(s.holes, i, j, h)
}

// skipHoles moves off past the damaged ranges (sorted, apart) it is in and
// returns the ranges still ahead.
func skipHoles(holes []span, off int64) ([]span, int64) {
	for len(holes) > 0 && holes[0].Off <= off {
		off = max(off, holes[0].End)
		holes = holes[1:]
	}
	return holes, off
}

// inHoles reports whether [off, end) lies within the segment's damaged
// ranges or past its end.
func (s *Segment) inHoles(off, end int64) bool {
	for _, h := range s.holes {
		if h.Off <= off {
			off = max(off, h.End)
		}
	}
	return off >= min(end, s.Size)
}

func (s *Segment) has(stream uint16) bool {
	_, ok := slices.BinarySearch(s.Streams, stream)
	return ok
}

func (s *Segment) add(stream uint16) {
	if i, ok := slices.BinarySearch(s.Streams, stream); !ok {
		s.Streams = slices.Insert(s.Streams, i, stream)
	}
}

// Pos is a place in the log: a segment number and a byte offset in it.
type Pos struct {
	Seg uint64
	Off int64
}

// Less orders positions.
func (p Pos) Less(q Pos) bool { return p.Seg < q.Seg || (p.Seg == q.Seg && p.Off < q.Off) }

// Log is the append-only sequence of segment files in one directory.
type Log struct {
	fs       vfs.FS
	dir      string
	segBytes int64

	Segs   []*Segment // ascending numbers; the last is the active one
	nextNo uint64     // number of the next segment; numbers are never reused
	active vfs.File
	buf    []byte // the active segment's bytes, mirrored
	Total  int64  // bytes of all segments

	cuts     uint64             // Unappends so far (see Cuts)
	cache    [cacheSlots]cached // segments read lately (see Bytes)
	cacheUse uint64             // clock of the cache's least-recently-used choice
	scan     []byte             // recovery's read buffer
	unsynced bool               // active file has unsynced writes
	toSync   []uint64           // closed segments with unsynced writes (synced by Sync, not at rotation)
	writes   uint64             // changes made to segment files (Segment.wrote)
	dirDirty bool               // segment files were created or removed since SyncDir

	// Precreate has the next segment's file created by a goroutine of its
	// own while the active one fills (see prepareSpare).
	Precreate bool
	spare     chan spareFile // the next segment's file being created (nil: none)

	BytesWritten, Syncs uint64
}

// spareFile is a segment file created ahead of its rotation, empty.
type spareFile struct {
	no  uint64
	f   vfs.File
	err error
}

// cacheSlots is how many segments besides the active one Bytes keeps in
// memory: a reader going round many streams finds their frames in a few
// segments, which it would read again and again with one.
const cacheSlots = 8

// cached is one segment held in memory.
type cached struct {
	no   uint64    // 0: empty
	b    []byte    // its content
	bad  []badSpan // unreadable chunks (zeros in b)
	used uint64

	// The segment's frames by stream, then offset: built by Next on first
	// use, so a reader going round many streams parses each header of the
	// segment once instead of once per stream passing it. Frames from end
	// on (where indexing met damage) are found by scanning.
	refs    []frameRef
	end     int64
	indexed bool
}

// frameRef is a frame of a cached segment: its stream and offset.
type frameRef struct {
	key uint64 // streamKey of the frame
	off int64
}

func streamKey(source uint8, sensor uint32) uint64 { return uint64(source)<<32 | uint64(sensor) }

// index lists the frames of segment s (content c.b), skipping its holes,
// up to the end or the first header that does not parse or runs past the
// end, which the linear scan then reports.
func (c *cached) index(s *Segment) {
	c.refs = c.refs[:0]
	holes, off := s.holes, int64(SegmentHeaderSize)
	for {
		if holes, off = skipHoles(holes, off); off >= int64(len(c.b)) {
			break
		}
		h, err := ParseFrameHeader(c.b[off:])
		if err != nil || off+int64(h.Size()) > int64(len(c.b)) {
			break
		}
		c.refs = append(c.refs, frameRef{streamKey(h.Source, h.Sensor), off})
		off += int64(h.Size())
	}
	c.end = min(off, int64(len(c.b)))
	slices.SortFunc(c.refs, func(a, b frameRef) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return cmp.Compare(a.off, b.off)
	})
	c.indexed = true
}

// find returns the offset of the first frame at or after off in the index
// that matches, or -1, and where the index stops covering the segment.
func (c *cached) find(b []byte, match Match, off int64) int64 {
	k := streamKey(match.Source, match.Sensor)
	i := sort.Search(len(c.refs), func(i int) bool {
		r := c.refs[i]
		return r.key > k || (r.key == k && r.off >= off)
	})
	for ; i < len(c.refs) && c.refs[i].key == k; i++ {
		o := c.refs[i].off
		if h, err := ParseFrameHeader(b[o:]); err == nil && h.LastSeq() >= match.MinSeq {
			return o
		}
	}
	return -1
}

// cachedSeg returns the slot holding segment no, or nil.
func (l *Log) cachedSeg(no uint64) *cached {
	for i := range l.cache {
		if c := &l.cache[i]; c.no == no && no != 0 {
			return c
		}
	}
	return nil
}

// uncache forgets segment no's content (it changed or is gone).
func (l *Log) uncache(no uint64) {
	if c := l.cachedSeg(no); c != nil {
		c.no = 0
	}
}

// LogStats are the log's counters.
type LogStats struct {
	Segments     int    // segment files
	Bytes        int64  // bytes of all segments (what the disk cap counts)
	BytesWritten uint64 // bytes written to files (flash wear)
	Syncs        uint64 // fsyncs of files and directories
}

// Stats returns the log's counters.
func (l *Log) Stats() LogStats {
	return LogStats{Segments: len(l.Segs), Bytes: l.Total, BytesWritten: l.BytesWritten, Syncs: l.Syncs}
}

// AddIO counts bytes written and fsyncs made beside the log (the checkpoint
// files) into its counters.
func (l *Log) AddIO(bytes, syncs int) {
	l.BytesWritten += uint64(max(bytes, 0))
	l.Syncs += uint64(max(syncs, 0))
}

// Len is the number of segments.
func (l *Log) Len() int { return len(l.Segs) }

// Front is the oldest segment, or nil.
func (l *Log) Front() *Segment {
	if len(l.Segs) == 0 {
		return nil
	}
	return l.Segs[0]
}

// End is the position after everything appended: the active segment's end,
// or the start of the segment the next Append creates.
func (l *Log) End() Pos {
	if a := l.Active(); a != nil {
		return Pos{a.No, a.Size}
	}
	return Pos{Seg: l.next()}
}

// next is the number the next segment gets.
func (l *Log) next() uint64 {
	no := max(l.nextNo, 1)
	if n := len(l.Segs); n > 0 {
		no = max(no, l.Segs[n-1].No+1)
	}
	return no
}

// SegmentName is the file name of segment no.
func SegmentName(no uint64) string { return fmt.Sprintf("seg-%016d.mm2", no) }

// ParseSegmentName returns the number of a segment file name.
func ParseSegmentName(name string) (uint64, bool) {
	if !strings.HasPrefix(name, "seg-") || !strings.HasSuffix(name, ".mm2") {
		return 0, false
	}
	no, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "seg-"), ".mm2"), 10, 64)
	return no, err == nil && no > 0
}

// NewLog returns an empty log over dir; Recover fills it from the files.
func NewLog(fsys vfs.FS, dir string, segBytes int) *Log {
	return &Log{fs: fsys, dir: dir, segBytes: int64(segBytes)}
}

// MemBytes is what the log holds in memory.
func (l *Log) MemBytes() int {
	n := cap(l.buf) + 8*cap(l.Segs)
	for i := range l.cache {
		n += cap(l.cache[i].b)
	}
	for _, s := range l.Segs {
		n += 96 + 2*cap(s.Streams) + 16*cap(s.holes) + len(s.file)
	}
	return n
}

func (l *Log) path(no uint64) string { return path.Join(l.dir, SegmentName(no)) }

// segPath is the file of segment s.
func (l *Log) segPath(s *Segment) string {
	if s.file != "" {
		return path.Join(l.dir, s.file)
	}
	return l.path(s.No)
}

// Active is the segment being appended to, or nil.
func (l *Log) Active() *Segment {
	if len(l.Segs) == 0 || l.active == nil {
		return nil
	}
	return l.Segs[len(l.Segs)-1]
}

// Find returns the segment numbered no, or nil.
func (l *Log) Find(no uint64) *Segment {
	i := sort.Search(len(l.Segs), func(i int) bool { return l.Segs[i].No >= no })
	if i < len(l.Segs) && l.Segs[i].No == no {
		return l.Segs[i]
	}
	return nil
}

// Append writes an encoded frame of stream with records records, rotating
// to a new segment when it does not fit, and returns where it went.
func (l *Log) Append(frame []byte, stream uint16, records int) (Pos, error) {
	if a := l.Active(); a == nil || a.Size+int64(len(frame)) > l.segBytes {
		if err := l.rotate(); err != nil {
			return Pos{}, err
		}
	}
	a := l.Active()
	n, err := l.active.Write(frame)
	l.BytesWritten += uint64(max(n, 0))
	l.writes++
	a.wrote = l.writes
	if err != nil {
		// Cut a short write so the file never holds half a frame we go on after.
		if n > 0 {
			if terr := l.active.Truncate(a.Size); terr != nil {
				err = errors.Join(err, terr)
			}
		}
		return Pos{}, err
	}
	pos := Pos{a.No, a.Size}
	l.buf = append(l.buf, frame...)
	a.Size += int64(len(frame))
	l.Total += int64(len(frame))
	a.Live += records
	a.add(stream)
	l.unsynced = true
	return pos, nil
}

// Cuts counts the Unappends made: the only change to bytes of a segment
// below a size it had (the frame cut can be followed by another at the same
// place). A reader of a segment's file that took its size before (see
// ReadFrames) compares it to know that what it read is still what was there.
func (l *Log) Cuts() uint64 { return l.cuts }

// Unappend removes the frame of size n and records records that the last
// Append put at pos, when what followed it (a sync) failed.
func (l *Log) Unappend(pos Pos, n int64, records int) error {
	a := l.Active()
	if a == nil || a.No != pos.Seg || a.Size != pos.Off+n {
		return fmt.Errorf("spool: unappend at %v is not the last frame", pos)
	}
	if err := l.active.Truncate(pos.Off); err != nil {
		return err
	}
	l.cuts++
	l.writes++
	a.wrote = l.writes
	a.Size = pos.Off
	a.Live -= records
	l.Total -= n
	l.buf = l.buf[:pos.Off]
	return nil
}

// rotate closes the active segment and starts the next one.
func (l *Log) rotate() error {
	if err := l.closeActive(); err != nil {
		return err
	}
	no := l.next()
	// Append mode: after a short write is cut back, the next write lands at
	// the new end, leaving no hole.
	f := l.takeSpare(no)
	if f == nil {
		var err error
		if f, err = l.fs.OpenAppend(l.path(no)); err != nil {
			return err
		}
	}
	hdr := AppendSegmentHeader(nil, no)
	if n, err := f.Write(hdr); err != nil {
		l.BytesWritten += uint64(max(n, 0))
		return errors.Join(err, f.Close(), l.fs.Remove(l.path(no)))
	}
	l.BytesWritten += uint64(len(hdr))
	l.active = f
	l.nextNo = no + 1
	if cap(l.buf) < int(l.segBytes) {
		l.buf = make([]byte, 0, l.segBytes)
	}
	l.buf = append(l.buf[:0], hdr...)
	l.Segs = append(l.Segs, &Segment{No: no, Size: int64(len(hdr))})
	l.Total += int64(len(hdr))
	l.dirDirty, l.unsynced = true, true
	l.prepareSpare(no + 1)
	return nil
}

// prepareSpare starts creating segment no's file in a goroutine of its own
// when Precreate is set: creating a file can take hundreds of microseconds
// on a busy ext4 (it waits for the filesystem's journal), which a rotation
// then does not wait for. The file stays empty until its rotation; one left
// by a crash or a failure is "created but never written", which recovery
// removes. Only for a filesystem whose calls may run concurrently and whose
// order matters to nobody: the operating system's (the test filesystems
// number their operations to inject faults and crashes).
func (l *Log) prepareSpare(no uint64) {
	if !l.Precreate || l.spare != nil {
		return
	}
	ch := make(chan spareFile, 1)
	l.spare = ch
	go func() {
		f, err := l.fs.OpenAppend(l.path(no))
		ch <- spareFile{no: no, f: f, err: err}
	}()
}

// takeSpare returns the file created ahead for segment no, or nil when
// there is none (or it failed, or is for another number: the caller then
// creates the file itself, and meets the error again if there is one).
func (l *Log) takeSpare(no uint64) vfs.File {
	if l.spare == nil {
		return nil
	}
	sp := <-l.spare
	l.spare = nil
	if sp.err != nil {
		return nil
	}
	if sp.no != no {
		_ = sp.f.Close()
		_ = l.fs.Remove(l.path(sp.no))
		return nil
	}
	return sp.f
}

// dropSpare waits for a file being created ahead and removes it.
func (l *Log) dropSpare() {
	if l.spare == nil {
		return
	}
	sp := <-l.spare
	l.spare = nil
	if sp.err == nil {
		_ = sp.f.Close()
		if l.fs.Remove(l.path(sp.no)) == nil {
			l.dirDirty = true
		}
	}
}

func (l *Log) closeActive() error {
	if l.active == nil {
		return nil
	}
	// No fsync here (rotation runs under the store's lock): the next Sync
	// makes the closed segment durable.
	if l.unsynced {
		l.toSync = append(l.toSync, l.Segs[len(l.Segs)-1].No)
		l.unsynced = false
	}
	err := l.active.Close()
	l.active = nil
	l.uncache(l.Segs[len(l.Segs)-1].No)
	return err
}

// Sync makes everything appended so far durable.
func (l *Log) Sync() error {
	for len(l.toSync) > 0 {
		if err := l.SyncSegment(l.toSync[0]); err != nil {
			return err
		}
		l.Syncs++
		l.toSync = l.toSync[1:]
	}
	if l.active != nil && l.unsynced {
		if err := l.active.Sync(); err != nil {
			return err
		}
		l.Syncs++
		l.unsynced = false
	}
	if l.dirDirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return err
		}
		l.Syncs++
		l.dirDirty = false
	}
	return nil
}

// Unsynced lists the segments with writes no Sync covered yet, for a
// caller that syncs them with SyncSegment without its lock, and the mark
// to give SyncedClosed afterwards.
func (l *Log) Unsynced() (nos []uint64, mark uint64) {
	nos = append([]uint64(nil), l.toSync...)
	if l.active != nil && l.unsynced {
		nos = append(nos, l.Segs[len(l.Segs)-1].No)
	}
	return nos, l.writes
}

// SyncSegment fsyncs segment no through a handle of its own, so it may run
// while appends go on; a segment removed meanwhile needs nothing.
func (l *Log) SyncSegment(no uint64) error {
	f, err := l.fs.Open(l.path(no))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncedClosed records that the segments among nos, listed by Unsynced
// with mark, were synced: each closed one is synced unless it was written
// after the mark (it was still active and took frames meanwhile), which
// the next Sync must then cover.
func (l *Log) SyncedClosed(nos []uint64, mark uint64) {
	kept := l.toSync[:0]
	for _, no := range l.toSync {
		seg := l.Find(no)
		if !slices.Contains(nos, no) || seg != nil && seg.wrote > mark {
			kept = append(kept, no)
		}
	}
	l.toSync = kept
}

// Close syncs and closes the active segment.
func (l *Log) Close() error {
	l.dropSpare()
	err := l.closeActive()
	err = errors.Join(err, l.Sync())
	if l.dirDirty {
		err = errors.Join(err, l.fs.SyncDir(l.dir))
		l.dirDirty = false
	}
	return err
}

// RemoveFront deletes the oldest segment file, whatever it holds (the
// disk cap drops it; the caller counts what was in it). The active segment
// is closed first when it is the only one.
func (l *Log) RemoveFront() error {
	if len(l.Segs) == 0 {
		return errors.New("spool: no segment to remove")
	}
	if l.Active() == l.Segs[0] {
		if err := l.closeActive(); err != nil {
			return err
		}
	}
	return l.removeAt(0)
}

// Size is the bytes of all segments (what a disk cap counts).
func (l *Log) Size() int64 { return l.Total }

// RetireAcked removes every segment, wherever it sits, that holds no
// unacknowledged record, except the one being appended to.
func (l *Log) RetireAcked() error {
	for i := 0; i < len(l.Segs); {
		if s := l.Segs[i]; s.Live > 0 || l.Active() == s {
			i++
			continue
		}
		if err := l.removeAt(i); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes segment no, wherever it is in the log, once none of its
// records is unacknowledged: acknowledged data never pins disk space behind
// an older segment. It refuses, changing nothing, an unknown number, the
// active segment and a segment with unacknowledged records.
func (l *Log) Remove(no uint64) error {
	i := sort.Search(len(l.Segs), func(i int) bool { return l.Segs[i].No >= no })
	if i == len(l.Segs) || l.Segs[i].No != no {
		return fmt.Errorf("spool: remove: no segment %d", no)
	}
	s := l.Segs[i]
	if l.Active() == s {
		return fmt.Errorf("spool: remove: segment %d is being appended to", no)
	}
	if s.Live != 0 {
		return fmt.Errorf("spool: remove: segment %d holds %d unacknowledged records", no, s.Live)
	}
	return l.removeAt(i)
}

// removeAt deletes the file of l.Segs[i] and drops it from the index. A file
// already gone counts as removed.
func (l *Log) removeAt(i int) error {
	s := l.Segs[i]
	if err := l.fs.Remove(l.segPath(s)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	l.uncache(s.No)
	l.Segs = slices.Delete(l.Segs, i, i+1)
	l.Total -= s.Size
	l.dirDirty = true
	return nil
}

// Bytes returns the content of segment no: the active one from memory,
// others through a cache of the cacheSlots segments used last. The content
// is valid until the next call. Chunks that cannot be read (EIO) read as
// zeros, which Next and Frames report as damage and skip.
func (l *Log) Bytes(no uint64) ([]byte, error) {
	b, _, err := l.bytes(no)
	return b, err
}

// bytes is Bytes, with the cache slot holding the segment (nil for the
// active one).
func (l *Log) bytes(no uint64) ([]byte, *cached, error) {
	if a := l.Active(); a != nil && a.No == no {
		return l.buf, nil, nil
	}
	l.cacheUse++
	if c := l.cachedSeg(no); c != nil {
		c.used = l.cacheUse
		return c.b, c, nil
	}
	s := l.Find(no)
	if s == nil {
		return nil, nil, fmt.Errorf("spool: no segment %d", no)
	}
	f, err := l.fs.Open(l.segPath(s))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	c := &l.cache[0]
	for i := range l.cache {
		if l.cache[i].used < c.used {
			c = &l.cache[i]
		}
	}
	if cap(c.b) < int(s.Size) {
		c.b = make([]byte, s.Size, max(s.Size, l.segBytes))
	}
	c.no, c.indexed = 0, false
	n, bad := readChunked(f, c.b[:s.Size])
	// An unreadable chunk reads as zeros: damage that Next and Frames skip
	// like any other, reported with the read's error.
	c.bad = c.bad[:0]
	for _, b := range bad {
		if !s.inHoles(b.Off, b.End) {
			c.bad = append(c.bad, b)
		}
	}
	c.b, c.no, c.used = c.b[:n], no, l.cacheUse
	return c.b, c, nil
}

// Match names the frames looked for: those of one stream holding a record
// with a sequence number at or above MinSeq.
type Match struct {
	Source uint8
	Sensor uint32
	MinSeq uint64
}

func (m Match) matches(h FrameHeader) bool {
	return h.Source == m.Source && h.Sensor == m.Sensor && h.LastSeq() >= m.MinSeq
}

// Next finds the first frame of stream (matched by match) at or after pos,
// skipping segments that hold no frame of it, and returns its position, header
// and payload (valid until the next call). ok is false when there is none.
func (l *Log) Next(stream uint16, match Match, pos Pos) (Pos, FrameHeader, []byte, bool, error) {
	i := sort.Search(len(l.Segs), func(i int) bool { return l.Segs[i].No >= pos.Seg })
	for ; i < len(l.Segs); i++ {
		s := l.Segs[i]
		if !s.has(stream) {
			continue
		}
		off := int64(SegmentHeaderSize)
		if s.No == pos.Seg && pos.Off > off {
			off = pos.Off
		}
		b, c, err := l.bytes(s.No)
		if err != nil {
			return Pos{}, FrameHeader{}, nil, false, err
		}
		if c != nil {
			// A closed segment: look the stream's frames up in its index,
			// then scan only what the index does not cover.
			if !c.indexed {
				c.index(s)
			}
			if o := c.find(b, match, off); o >= 0 {
				h, payload, err := DecodeFrame(b[o:])
				if err != nil {
					return Pos{}, FrameHeader{}, nil, false, l.damaged(s, b, o, err)
				}
				return Pos{s.No, o}, h, payload, true, nil
			}
			off = max(off, c.end)
		}
		holes := s.holes
		for {
			if holes, off = skipHoles(holes, off); off >= int64(len(b)) {
				break
			}
			// Frames were checked when written or recovered: skip others by
			// header, and verify the checksum of the one returned.
			h, err := ParseFrameHeader(b[off:])
			if err == nil && match.matches(h) {
				var payload []byte
				if h, payload, err = DecodeFrame(b[off:]); err == nil {
					return Pos{s.No, off}, h, payload, true, nil
				}
			}
			if err != nil {
				return Pos{}, FrameHeader{}, nil, false, l.damaged(s, b, off, err)
			}
			off += int64(h.Size())
		}
	}
	return Pos{}, FrameHeader{}, nil, false, nil
}

// FrameError is damage a read found in a frame after recovery: Next and
// Frames return it once and from then on skip the damaged bytes, so one
// bad frame never blocks the frames after it. Header is the damaged
// frame's header when it still parses, to count the records lost.
type FrameError struct {
	Pos    Pos
	Bytes  int64 // damaged bytes skipped from Pos on
	Header *FrameHeader
	Err    error
	// Retry: the bytes could not be read and were not skipped; a later
	// read tries them again (after maxUnreadable failures they are).
	Retry bool
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("spool: segment %d offset %d: %v", e.Pos.Seg, e.Pos.Off, e.Err)
}

func (e *FrameError) Unwrap() error { return e.Err }

// damaged records the damage at off of segment s (content b) as a hole up
// to the next valid frame and returns it as a *FrameError.
func (l *Log) damaged(s *Segment, b []byte, off int64, err error) error {
	end := min(resync(b, off+1), int64(len(b)))
	if c := l.cachedSeg(s.No); c != nil {
		for _, bs := range c.bad {
			if bs.Off < end && off < bs.End {
				err = bs.err // unreadable, not malformed
				if s.unreadable++; s.unreadable < maxUnreadable {
					c.no = 0 // read it again next time
					return &FrameError{Pos: Pos{s.No, off}, Err: err, Retry: true}
				}
				break
			}
		}
	}
	s.unreadable = 0
	var hp *FrameHeader
	if h, herr := ParseFrameHeader(b[off:]); herr == nil && int64(h.Size()) <= end-off {
		hp = &h
	}
	s.addHole(span{off, end})
	if c := l.cachedSeg(s.No); c != nil {
		c.indexed = false // index it again around the hole
	}
	return &FrameError{Pos: Pos{s.No, off}, Bytes: end - off, Header: hp, Err: err}
}

// FrameAt is a frame of the log: where it is and its header.
type FrameAt struct {
	Pos    Pos
	Header FrameHeader
}

// Frames appends to dst every good frame of segment no in order, checksums
// verified, skipping the damage recovery left in place. Damage found now is
// returned as a *FrameError with the frames before it; calling again goes
// on past it.
func (l *Log) Frames(no uint64, dst []FrameAt) ([]FrameAt, error) {
	s := l.Find(no)
	if s == nil {
		return dst, fmt.Errorf("spool: no segment %d", no)
	}
	b, err := l.Bytes(no)
	if err != nil {
		return dst, err
	}
	holes, off := s.holes, int64(SegmentHeaderSize)
	for {
		if holes, off = skipHoles(holes, off); off >= int64(len(b)) {
			break
		}
		h, _, err := DecodeFrame(b[off:])
		if err != nil {
			return dst, l.damaged(s, b, off, err)
		}
		dst = append(dst, FrameAt{Pos{no, off}, h})
		off += int64(h.Size())
	}
	return dst, nil
}
