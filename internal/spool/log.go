package spool

import (
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mm2go/mm2/internal/vfs"
)

// Segment is the in-memory index of one segment file: O(1) fields plus the
// sorted stream indexes it holds frames of (at most one per frame, and a
// segment holds a bounded number of frames).
type Segment struct {
	No      uint64
	Size    int64
	Live    int      // unacknowledged records in it
	Streams []uint16 // stream table indexes with frames here, sorted
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
	active vfs.File
	buf    []byte // the active segment's bytes, mirrored
	Total  int64  // bytes of all segments

	cacheNo  uint64 // segment held in cache (0 = none)
	cache    []byte
	scan     []byte // recovery's read buffer
	unsynced bool   // active file has unsynced writes
	dirDirty bool   // segment files were created or removed since SyncDir

	BytesWritten, Syncs uint64
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
	n := cap(l.buf) + cap(l.cache) + 8*cap(l.Segs)
	for _, s := range l.Segs {
		n += 48 + 2*cap(s.Streams)
	}
	return n
}

func (l *Log) path(no uint64) string { return path.Join(l.dir, SegmentName(no)) }

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
	no := uint64(1)
	if len(l.Segs) > 0 {
		no = l.Segs[len(l.Segs)-1].No + 1
	}
	// Append mode: after a short write is cut back, the next write lands at
	// the new end, leaving no hole.
	f, err := l.fs.OpenAppend(l.path(no))
	if err != nil {
		return err
	}
	hdr := AppendSegmentHeader(nil, no)
	if n, err := f.Write(hdr); err != nil {
		l.BytesWritten += uint64(max(n, 0))
		return errors.Join(err, f.Close(), l.fs.Remove(l.path(no)))
	}
	l.BytesWritten += uint64(len(hdr))
	l.active = f
	if cap(l.buf) < int(l.segBytes) {
		l.buf = make([]byte, 0, l.segBytes)
	}
	l.buf = append(l.buf[:0], hdr...)
	l.Segs = append(l.Segs, &Segment{No: no, Size: int64(len(hdr))})
	l.Total += int64(len(hdr))
	l.dirDirty, l.unsynced = true, true
	return nil
}

func (l *Log) closeActive() error {
	if l.active == nil {
		return nil
	}
	var err error
	if l.unsynced {
		err = l.active.Sync()
		l.Syncs++
		l.unsynced = false
	}
	err = errors.Join(err, l.active.Close())
	l.active = nil
	if a := l.Segs[len(l.Segs)-1]; l.cacheNo == a.No {
		l.cacheNo = 0
	}
	return err
}

// Sync makes everything appended so far durable.
func (l *Log) Sync() error {
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

// Close syncs and closes the active segment.
func (l *Log) Close() error {
	err := l.closeActive()
	if l.dirDirty {
		err = errors.Join(err, l.fs.SyncDir(l.dir))
		l.dirDirty = false
	}
	return err
}

// RemoveFront deletes the oldest segment file.
func (l *Log) RemoveFront() error {
	s := l.Segs[0]
	if l.Active() == s {
		if err := l.closeActive(); err != nil {
			return err
		}
	}
	if err := l.fs.Remove(l.path(s.No)); err != nil {
		return err
	}
	if l.cacheNo == s.No {
		l.cacheNo = 0
	}
	l.Segs = l.Segs[1:]
	l.Total -= s.Size
	l.dirDirty = true
	return nil
}

// Bytes returns the content of segment no (the active one from memory, others
// through a one-segment cache).
func (l *Log) Bytes(no uint64) ([]byte, error) {
	if a := l.Active(); a != nil && a.No == no {
		return l.buf, nil
	}
	if l.cacheNo == no {
		return l.cache, nil
	}
	f, err := l.fs.Open(l.path(no))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := l.Find(no)
	if s == nil {
		return nil, fmt.Errorf("spool: no segment %d", no)
	}
	if cap(l.cache) < int(s.Size) {
		l.cache = make([]byte, s.Size, max(s.Size, l.segBytes))
	}
	l.cache = l.cache[:s.Size]
	if _, err := f.ReadAt(l.cache, 0); err != nil && !errors.Is(err, io.EOF) {
		l.cacheNo = 0
		return nil, err
	}
	l.cacheNo = no
	return l.cache, nil
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
		b, err := l.Bytes(s.No)
		if err != nil {
			return Pos{}, FrameHeader{}, nil, false, err
		}
		for off < int64(len(b)) {
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
				return Pos{}, FrameHeader{}, nil, false, fmt.Errorf("segment %d offset %d: %w", s.No, off, err)
			}
			off += int64(h.Size())
		}
	}
	return Pos{}, FrameHeader{}, nil, false, nil
}
