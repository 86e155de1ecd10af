package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/mm2go/mm2/vfs"
)

// CorruptDir is where damaged files are moved, under the store's directory.
const CorruptDir = "corrupted"

// MaxSegmentBytes bounds the segment size a store may be configured with.
// Recovery reads at most max(segment size, MaxSegmentBytes) plus one frame
// of a segment file: a larger file is damage (a sparse file grown by a
// filesystem error, say), and what lies past the bound is skipped, never
// read into memory.
const MaxSegmentBytes = 16 << 20

// maxFrameSize is the largest frame on disk.
const maxFrameSize = FrameHeaderSize + MaxFramePayload

// readChunk is the unit recovery and Bytes read a file in: an unreadable
// chunk (a bad block) costs that chunk only, not the file.
const readChunk = 64 << 10

// tmpSuffix names a segment's rewrite before it replaces the segment.
const tmpSuffix = ".tmp"

// Errors reported in Damage.Err beside the decoders' ones.
var (
	// ErrOversized: a segment file is larger than any segment can be.
	ErrOversized = errors.New("spool: segment file larger than a segment")
	// ErrNotRepaired: repairing a damaged file failed (a full or failing
	// disk); the file is left as it is and used read-only, its damage
	// skipped. The next recovery tries again.
	ErrNotRepaired = errors.New("spool: damage left in place, file used read-only")
	// ErrUnreadable: no byte of a segment file could be read; it is skipped
	// (and moved to corrupted/ when repairing).
	ErrUnreadable = errors.New("spool: segment file unreadable")
)

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
// The payload is valid only during the call.
type Visit func(pos Pos, h FrameHeader, payload []byte) (stream uint16, live int, ok bool)

// Recover scans every segment of the directory in number order, calls visit
// for each good frame and rebuilds the in-memory index. It fails only when
// the directory cannot be listed; everything else is reported as Damage and
// skipped:
//
//   - a torn or zeroed tail is cut in place with Truncate (repair=true);
//   - a damaged frame in the middle is skipped by resynchronising on the
//     next valid frame; with repair=true the file is moved to corrupted/ and
//     replaced by a copy holding its good frames only;
//   - a file larger than any segment is read only up to the bound and
//     treated like damage in the middle;
//   - a file that cannot be read at all (EIO) is skipped, and moved to
//     corrupted/ when repairing; unreadable chunks of a file are skipped
//     like damaged bytes;
//   - when a repair fails (full disk, EIO) the file is kept as it is and
//     used read-only, its damage skipped by Next, and a Damage with
//     ErrNotRepaired says so.
//
// With repair=false no file is changed; reads (Next) still skip every
// damaged range, so every good frame stays readable.
func (l *Log) Recover(visit Visit, repair bool) ([]Damage, error) {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	files := map[uint64]string{} // segment number -> file holding it
	var tmps []uint64
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if no, ok := ParseSegmentName(e.Name()); ok {
			files[no] = e.Name()
		} else if no, ok := ParseSegmentName(strings.TrimSuffix(e.Name(), tmpSuffix)); ok && strings.HasSuffix(e.Name(), tmpSuffix) {
			tmps = append(tmps, no)
		}
	}
	var damage []Damage
	for _, no := range tmps {
		if d := l.settleRewrite(no, files, repair); d != nil {
			damage = append(damage, *d)
		}
	}
	nos := make([]uint64, 0, len(files))
	for no := range files {
		nos = append(nos, no)
	}
	sort.Slice(nos, func(i, j int) bool { return nos[i] < nos[j] })
	defer func() { l.scan = nil }() // only recovery needs it
	for _, no := range nos {
		l.nextNo = max(l.nextNo, no+1) // never reuse a number, even of a skipped file
		damage = append(damage, l.recoverSegment(no, files[no], visit, repair)...)
	}
	if repair && l.dirDirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			damage = append(damage, Damage{File: ".", Err: fmt.Errorf("%w: syncing the directory: %w", ErrNotRepaired, err)})
		} else {
			l.Syncs++
			l.dirDirty = false
		}
	}
	return damage, nil
}

// settleRewrite deals with seg-N.mm2.tmp left by a rewrite a crash
// interrupted. The rewrite is written and synced before the damaged
// original is moved away, so a tmp without its original is the segment;
// a tmp beside its original is an unfinished rewrite and is dropped.
func (l *Log) settleRewrite(no uint64, files map[uint64]string, repair bool) *Damage {
	name := SegmentName(no)
	tmp := name + tmpSuffix
	if _, ok := files[no]; ok {
		if repair {
			_ = l.fs.Remove(path.Join(l.dir, tmp)) // a leftover; failing to remove it harms nothing
		}
		return nil
	}
	files[no] = tmp
	if !repair {
		return nil
	}
	if err := l.fs.Rename(path.Join(l.dir, tmp), path.Join(l.dir, name)); err != nil {
		return &Damage{File: name, Err: fmt.Errorf("%w: publishing the rewrite %s: %w", ErrNotRepaired, tmp, err)}
	}
	files[no] = name
	l.dirDirty = true
	return nil
}

// span is a byte range [Off, End) of a segment file.
type span struct{ Off, End int64 }

func (l *Log) recoverSegment(no uint64, file string, visit Visit, repair bool) []Damage {
	seg := SegmentName(no)
	full := path.Join(l.dir, file)
	b, size, bad, err := l.readBounded(full)
	if err == nil && len(b) > 0 && covered(bad, 0, int64(len(b))) {
		err = bad[0].err
	}
	if err != nil {
		d := Damage{File: seg, Err: fmt.Errorf("%w: %w", ErrUnreadable, err), Bytes: size}
		if repair {
			if _, qerr := l.moveToCorrupt(full, seg); qerr != nil {
				return []Damage{d, {File: seg, Err: fmt.Errorf("%w: quarantining: %w", ErrNotRepaired, qerr)}}
			}
		}
		return []Damage{d}
	}
	if size == 0 {
		// Created but never written (a crash right after the create): nothing
		// was in it, so there is nothing to report or keep.
		if repair {
			if err := l.fs.Remove(full); err == nil {
				l.dirDirty = true
			}
		}
		return nil
	}
	var damage []Damage
	report := func(off, end int64, err error, h *FrameHeader) {
		for _, s := range bad {
			if s.Off < end && off < s.End {
				err = s.err // unreadable, not malformed
				break
			}
		}
		d := Damage{File: seg, Offset: off, Err: err, Bytes: end - off, Header: h}
		if h != nil {
			d.Frames, d.Records = 1, int(h.Count)
		}
		damage = append(damage, d)
	}
	hdrNo, err := ParseSegmentHeader(b)
	if err == nil && hdrNo != no {
		err = fmt.Errorf("%w: header says segment %d", ErrFormat, hdrNo)
	}
	quarantine := false // damage other than a torn tail
	if err != nil {
		report(0, int64(min(len(b), SegmentHeaderSize)), err, nil)
		quarantine = true
	}
	var kept []int64 // offsets of the good frames in b
	var holes []span // damaged ranges between good frames
	end := int64(SegmentHeaderSize)
	for off := int64(SegmentHeaderSize); off < int64(len(b)); {
		h, _, err := DecodeFrame(b[off:])
		if err == nil {
			kept = append(kept, off)
			off += int64(h.Size())
			end = off
			continue
		}
		next := resync(b, off+1)
		var hp *FrameHeader
		if hh, herr := ParseFrameHeader(b[off:]); herr == nil && int64(hh.Size()) <= next-off {
			hp = &hh
		}
		report(off, next, err, hp)
		if next < int64(len(b)) {
			quarantine = true
			holes = append(holes, span{off, next})
		}
		off = next
	}
	if size > int64(len(b)) {
		damage = append(damage, Damage{File: seg, Offset: int64(len(b)), Bytes: size - int64(len(b)),
			Err: fmt.Errorf("%w: %d bytes, at most %d are read", ErrOversized, size, l.bound())})
		quarantine = true
	}
	s := &Segment{No: no, Size: end, holes: holes}
	if file != seg {
		s.file = file
	}
	rewritten := false
	if repair && len(damage) > 0 && file != seg {
		// Served from its unpublished rewrite (settleRewrite could not
		// rename it): writing a new rewrite would overwrite it.
		damage = append(damage, Damage{File: seg, Offset: end, Err: fmt.Errorf("%w: the segment is only in %s", ErrNotRepaired, file)})
	} else if repair && len(damage) > 0 {
		var err error
		if quarantine {
			rewritten, err = l.quarantineRewrite(s, full, seg, b, kept)
		} else {
			err = l.cutTail(full, end)
		}
		if err != nil {
			damage = append(damage, Damage{File: seg, Offset: end, Err: fmt.Errorf("%w: %w", ErrNotRepaired, err)})
		}
	}
	l.Segs = append(l.Segs, s)
	l.Total += s.Size
	at := int64(SegmentHeaderSize) // a kept frame's offset in the rewritten file
	for _, off := range kept {
		h, payload, _ := DecodeFrame(b[off:])
		pos := Pos{no, off}
		if rewritten {
			pos.Off = at
			at += int64(h.Size())
		}
		if stream, live, ok := visit(pos, h, payload); ok {
			s.Live += live
			s.add(stream)
		}
	}
	return damage
}

// bound is the most of a segment file recovery reads.
func (l *Log) bound() int64 { return max(l.segBytes, MaxSegmentBytes) + maxFrameSize }

// badSpan is a range that could not be read, and why.
type badSpan struct {
	span
	err error
}

func covered(bad []badSpan, off, end int64) bool {
	for _, s := range bad {
		if s.Off <= off {
			off = max(off, s.End)
		}
	}
	return off >= end
}

// readBounded reads at most bound() bytes of a file into the log's reusable
// scan buffer (valid until the next call). It returns the bytes, the file's
// size and the chunks that failed to read (zero-filled in b). err is set
// when the file cannot be opened or its size known.
func (l *Log) readBounded(name string) (b []byte, size int64, bad []badSpan, err error) {
	f, err := l.fs.Open(name)
	if err != nil {
		return nil, 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, nil, err
	}
	size = fi.Size()
	n := min(size, l.bound())
	if int64(cap(l.scan)) < n {
		l.scan = make([]byte, n)
	}
	b = l.scan[:n]
	got, bad := readChunked(f, b)
	return b[:got], size, bad, nil
}

// readChunked fills b from the start of f chunk by chunk. A chunk that fails
// is zero-filled and returned as bad; the read stops early only at the end
// of the file, and returns how many bytes were filled.
func readChunked(f vfs.File, b []byte) (int, []badSpan) {
	var bad []badSpan
	for off := 0; off < len(b); {
		c := b[off:min(off+readChunk, len(b))]
		n, err := f.ReadAt(c, int64(off))
		switch {
		case err == nil || (errors.Is(err, io.EOF) && n == len(c)):
			off += len(c)
		case errors.Is(err, io.EOF):
			return off + n, bad
		default:
			clear(c)
			bad = append(bad, badSpan{span{int64(off), int64(off + len(c))}, err})
			off += len(c)
		}
	}
	return len(b), bad
}

var frameMagic = binary.LittleEndian.AppendUint32(nil, FrameMagic)

// resync finds the next offset at or after from where a whole valid frame
// starts, or len(b).
func resync(b []byte, from int64) int64 {
	for off := from; off+FrameHeaderSize <= int64(len(b)); off++ {
		i := bytes.Index(b[off:], frameMagic)
		if i < 0 {
			break
		}
		off += int64(i)
		if _, _, err := DecodeFrame(b[off:]); err == nil {
			return off
		}
	}
	return int64(len(b))
}

// cutTail cuts a torn tail off a segment file in place: no copy, so it works
// on a full disk.
func (l *Log) cutTail(name string, end int64) error {
	f, err := l.fs.OpenAppend(name)
	if err != nil {
		return err
	}
	err = f.Truncate(end)
	if err == nil {
		err = f.Sync()
		l.Syncs++
	}
	return errors.Join(err, f.Close())
}

// quarantineRewrite replaces a damaged segment file by one holding its good
// frames (kept offsets of b) and moves the original to corrupted/. The
// rewrite is written and synced under a temporary name first, so a crash at
// any point leaves the segment whole under one of its two names (see
// settleRewrite). rewritten reports whether s now describes the rewrite; on
// an error before that, the original is untouched.
func (l *Log) quarantineRewrite(s *Segment, full, seg string, b []byte, kept []int64) (rewritten bool, err error) {
	good := AppendSegmentHeader(make([]byte, 0, len(b)), s.No)
	for _, off := range kept {
		h, _ := ParseFrameHeader(b[off:])
		good = append(good, b[off:off+int64(h.Size())]...)
	}
	tmp := path.Join(l.dir, seg+tmpSuffix)
	if err := l.writeSynced(tmp, good); err != nil {
		return false, err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return false, errors.Join(err, l.fs.Remove(tmp))
	}
	l.Syncs++
	// From here the rewrite is durable: it is what s describes.
	s.Size, s.holes, s.file = int64(len(good)), nil, seg+tmpSuffix
	if _, err := l.moveToCorrupt(full, seg); err != nil {
		return true, err
	}
	if err := l.fs.Rename(tmp, path.Join(l.dir, seg)); err != nil {
		return true, err // settleRewrite publishes it at the next recovery
	}
	s.file = ""
	l.dirDirty = true
	return true, nil
}

// moveToCorrupt moves a damaged file into corrupted/ under a name not yet
// taken there: a rename, so it needs no space and keeps every byte.
func (l *Log) moveToCorrupt(name, base string) (string, error) {
	dir := path.Join(l.dir, CorruptDir)
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := path.Join(dir, base)
	for i := 1; ; i++ {
		if _, err := l.fs.Stat(dst); err != nil {
			break
		}
		dst = path.Join(dir, fmt.Sprintf("%s.%d", base, i))
	}
	if err := l.fs.Rename(name, dst); err != nil {
		return "", err
	}
	l.dirDirty = true
	if err := l.fs.SyncDir(dir); err != nil {
		return dst, err
	}
	l.Syncs++
	return dst, nil
}

// writeSynced creates name with content and syncs it; on failure the file
// is removed.
func (l *Log) writeSynced(name string, content []byte) error {
	f, err := l.fs.Create(name)
	if err != nil {
		return err
	}
	n, err := f.Write(content)
	l.BytesWritten += uint64(max(n, 0))
	if err == nil {
		err = f.Sync()
		l.Syncs++
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(err, l.fs.Remove(name))
	}
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
