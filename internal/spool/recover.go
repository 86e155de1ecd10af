package spool

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"

	"github.com/mm2go/mm2/internal/vfs"
)

// CorruptDir is where damaged files are moved, under the store's directory.
const CorruptDir = "corrupted"

// Damage is one damaged place found by Recover or Verify.
type Damage struct {
	File    string
	Offset  int64
	Err     error
	Frames  int // frames skipped (whose header still named them)
	Records int // records in those frames
	Bytes   int64
	Header  *FrameHeader // the skipped frame's header, when it still parses
}

// Visit is called for every good frame in log order. It returns the stream
// table index the frame belongs to, how many of its records are still
// unacknowledged, and whether the frame belongs to a known stream at all.
type Visit func(pos Pos, h FrameHeader, payload []byte) (stream uint16, live int, ok bool)

// Recover scans every segment of the directory in number order, calls visit
// for each good frame and rebuilds the in-memory index. A torn or zeroed tail
// is cut; a damaged frame in the middle is skipped by resynchronising on the
// next frame magic; a file with damage other than a torn tail is copied to
// corrupted/ and rewritten with its good frames only (repair=true). With
// repair=false nothing is changed and the damage is only reported.
func (l *Log) Recover(visit Visit, repair bool) ([]Damage, error) {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var nos []uint64
	for _, e := range entries {
		if no, ok := ParseSegmentName(e.Name()); ok && !e.IsDir() {
			nos = append(nos, no)
		}
	}
	sort.Slice(nos, func(i, j int) bool { return nos[i] < nos[j] })
	var damage []Damage
	defer func() { l.scan = nil }() // only recovery needs it
	for _, no := range nos {
		d, err := l.recoverSegment(no, visit, repair)
		damage = append(damage, d...)
		if err != nil {
			return damage, err
		}
	}
	if repair && len(damage) > 0 {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return damage, err
		}
	}
	return damage, nil
}

func (l *Log) recoverSegment(no uint64, visit Visit, repair bool) ([]Damage, error) {
	name := l.path(no)
	b, err := l.readWhole(name)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		// Created but never written (a crash right after the create): nothing
		// was in it, so there is nothing to report or keep.
		if repair {
			return nil, l.fs.Remove(name)
		}
		return nil, nil
	}
	var damage []Damage
	report := func(off int64, err error, h *FrameHeader, n int64) {
		d := Damage{File: SegmentName(no), Offset: off, Err: err, Bytes: n, Header: h}
		if h != nil {
			d.Frames, d.Records = 1, int(h.Count)
		}
		damage = append(damage, d)
	}
	hdrNo, err := ParseSegmentHeader(b)
	if err == nil && hdrNo != no {
		err = fmt.Errorf("%w: header says segment %d", ErrFormat, hdrNo)
	}
	quarantine := false
	if err != nil {
		report(0, err, nil, int64(min(len(b), SegmentHeaderSize)))
		quarantine = true
	}
	var kept []int64 // offsets of the good frames in b
	for off := int64(SegmentHeaderSize); off < int64(len(b)); {
		h, _, err := DecodeFrame(b[off:])
		if err == nil {
			kept = append(kept, off)
			off += int64(h.Size())
			continue
		}
		next := resync(b, off+1)
		var hp *FrameHeader
		if hh, herr := ParseFrameHeader(b[off:]); herr == nil && int64(hh.Size()) <= next-off {
			hp = &hh
		}
		report(off, err, hp, next-off)
		if next < int64(len(b)) {
			quarantine = true // damage in the middle, not a torn tail
		}
		off = next
	}
	seg := &Segment{No: no, Size: int64(len(b))}
	rewritten := repair && len(damage) > 0
	var good []byte
	if rewritten {
		if quarantine {
			if err := l.quarantine(name, b); err != nil {
				return damage, err
			}
		}
		good = AppendSegmentHeader(make([]byte, 0, len(b)), no)
		for _, off := range kept {
			h, _ := ParseFrameHeader(b[off:])
			good = append(good, b[off:off+int64(h.Size())]...)
		}
		if err := l.rewrite(name, good); err != nil {
			return damage, err
		}
		seg.Size = int64(len(good))
	}
	l.Segs = append(l.Segs, seg)
	l.Total += seg.Size
	at := int64(SegmentHeaderSize) // a kept frame's offset in the rewritten file
	for _, off := range kept {
		h, payload, _ := DecodeFrame(b[off:])
		pos := Pos{no, off}
		if rewritten {
			pos.Off = at
			at += int64(h.Size())
		}
		if stream, live, ok := visit(pos, h, payload); ok {
			seg.Live += live
			seg.add(stream)
		}
	}
	return damage, nil
}

// readWhole reads a file into the log's reusable scan buffer (valid until
// the next call).
func (l *Log) readWhole(name string) ([]byte, error) {
	f, err := l.fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if cap(l.scan) < int(fi.Size()) {
		l.scan = make([]byte, fi.Size())
	}
	b := l.scan[:fi.Size()]
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:n], nil
}

// resync finds the next offset at or after from where a whole valid frame
// starts, or len(b).
func resync(b []byte, from int64) int64 {
	for off := from; off+FrameHeaderSize <= int64(len(b)); off++ {
		if b[off] != 'M' {
			continue
		}
		if _, _, err := DecodeFrame(b[off:]); err == nil {
			return off
		}
	}
	return int64(len(b))
}

// quarantine copies a damaged file into corrupted/ for forensics.
func (l *Log) quarantine(name string, b []byte) error {
	dir := path.Join(l.dir, CorruptDir)
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dst := path.Join(dir, path.Base(name))
	for i := 1; ; i++ {
		if _, err := l.fs.Stat(dst); err != nil {
			break
		}
		dst = path.Join(dir, fmt.Sprintf("%s.%d", path.Base(name), i))
	}
	return writeFileSynced(l, dst, b, dir)
}

// rewrite replaces a file with content atomically: temp file, sync, rename.
func (l *Log) rewrite(name string, content []byte) error {
	return writeFileSynced(l, name, content, l.dir)
}

func writeFileSynced(l *Log, name string, content []byte, dir string) error {
	if err := WriteFileAtomic(l.fs, name, content, dir); err != nil {
		return err
	}
	l.BytesWritten += uint64(len(content))
	l.Syncs += 2
	return nil
}

// WriteFileAtomic replaces name with content: a temporary file is written
// and synced, renamed over name, and dir is synced. A crash at any point
// leaves either the old or the new content.
func WriteFileAtomic(fsys vfs.FS, name string, content []byte, dir string) error {
	tmp := name + ".tmp"
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(err, fsys.Remove(tmp))
	}
	if err := fsys.Rename(tmp, name); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}
