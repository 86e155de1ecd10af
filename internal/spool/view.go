package spool

import (
	"fmt"
	"io"
	"path"
)

// SegmentView is what a check needs of one segment, taken under the
// caller's lock: its number, its file and size at that instant, its
// unacknowledged records, and whether damage was left in it.
type SegmentView struct {
	No      uint64
	File    string // path of the file holding it
	Size    int64
	Unacked int
	Damaged bool
}

// Views appends a view of every segment to dst.
func (l *Log) Views(dst []SegmentView) []SegmentView {
	for _, s := range l.Segs {
		dst = append(dst, SegmentView{No: s.No, File: l.segPath(s), Size: s.Size, Unacked: s.Live, Damaged: s.Damaged()})
	}
	return dst
}

// ReadFrames appends to dst the frames of the segment v names, checksums
// verified, reading its file up to v.Size on its own (not through the log's
// buffers), so the caller need not hold the log's lock: a segment's bytes
// up to a size it had never change while it exists. It fails on anything
// else than a whole undamaged segment of that size (the file removed or
// cut since, a read error, damage, damage left in place): the caller then
// goes through Frames under its lock. buf is reused for the file's bytes
// and returned.
func (l *Log) ReadFrames(v SegmentView, buf []byte, dst []FrameAt) ([]byte, []FrameAt, error) {
	if v.Damaged {
		return buf, dst, fmt.Errorf("spool: segment %d holds damage", v.No)
	}
	f, err := l.fs.Open(v.File)
	if err != nil {
		return buf, dst, err
	}
	defer f.Close()
	if int64(cap(buf)) < v.Size {
		buf = make([]byte, v.Size)
	}
	b := buf[:v.Size]
	if n, err := f.ReadAt(b, 0); n < len(b) {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("spool: %s shorter than %d bytes", path.Base(v.File), v.Size)
		}
		return buf, dst, err
	}
	if no, err := ParseSegmentHeader(b); err != nil || no != v.No {
		return buf, dst, fmt.Errorf("spool: %s: bad header (segment %d, %v)", path.Base(v.File), no, err)
	}
	for off := int64(SegmentHeaderSize); off < v.Size; {
		h, _, err := DecodeFrame(b[off:])
		if err != nil {
			return buf, dst, fmt.Errorf("spool: %s at %d: %w", path.Base(v.File), off, err)
		}
		dst = append(dst, FrameAt{Pos{v.No, off}, h})
		off += int64(h.Size())
	}
	return buf, dst, nil
}
