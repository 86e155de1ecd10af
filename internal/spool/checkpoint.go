package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Checkpoint file constants.
const (
	CheckpointMagic      = 0x43324d4d // "MM2C"
	checkpointHeaderSize = 24
	streamStateSize      = 40
	// CheckpointVersion is the newest checkpoint format: 2 adds the
	// frames being filled (stages) of the disk tier; 3 is 2 holding a TSD
	// frame of StepVersion, and is written only then, so that a build
	// reading up to 2 refuses it as newer rather than take that frame for
	// damage. Versions 1 (no stages) and 2 are read; a newer version is
	// refused with ErrVersion.
	CheckpointVersion     = 3
	baseCheckpointVersion = 2 // written when no frame is stepped
)

// CheckpointNames are the two checkpoint slots. Checkpoint generation g is
// written in place over slot g%2, so the other slot always holds the
// previous complete checkpoint; recovery takes the valid one with the
// highest generation. Writing in place needs no new file, rename or
// directory sync: one fsync per checkpoint.
var CheckpointNames = [2]string{"state-a.mm2", "state-b.mm2"}

// StreamState is one stream's persisted cursors. Every record with a
// sequence number up to Acked is acknowledged (or dropped); LastSeq is the
// newest written; Reserved bounds every number handed out before a crash.
type StreamState struct {
	Source, Kind uint8
	Sensor       uint32
	Period       uint32
	Acked        uint64
	LastSeq      uint64
	Reserved     uint64
}

// Checkpoint is the persisted state: cursors of every stream and the RAM
// tier's unacknowledged records as frames. Clean says it was written by a
// power-down or close, so sequence numbering resumes without a gap.
type Checkpoint struct {
	Gen     uint64
	Clean   bool
	Streams []StreamState
	Frames  []byte // encoded frames, back to back
	// Stages are the disk tier's frames being filled, encoded the same way:
	// records on their way to a segment (version 2).
	Stages []byte
	// End is where the log ended, synced, when the checkpoint was written
	// (version 2): frames after it were written since, and the journal
	// holds their records too.
	End Pos
	// NewBase is the number before the first record of a stream configured
	// from now on (version 2): raised past every number a stream lost in a
	// power cut could have used, so a stream configured again never reuses
	// one.
	NewBase uint64
	// Boot is the boot ID of the machine when the checkpoint was written
	// (version 2; at most 40 bytes): an Open in the same boot knows that
	// nothing was lost from the page cache since.
	Boot string
	// JournalEpoch and JournalOff are where the changes after this
	// checkpoint begin in the journal (version 2): its replay starts there
	// and goes on into the next epoch when the journal holds one.
	JournalEpoch uint64
	JournalOff   uint64
}

// AppendCheckpoint encodes c onto dst.
func AppendCheckpoint(dst []byte, c *Checkpoint) []byte {
	start := len(dst)
	var h [checkpointHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:], CheckpointMagic)
	h[4] = baseCheckpointVersion
	if hasStepFrame(c.Stages) || hasStepFrame(c.Frames) {
		h[4] = CheckpointVersion
	}
	if c.Clean {
		h[5] = 1
	}
	binary.LittleEndian.PutUint64(h[8:], c.Gen)
	dst = append(dst, h[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(c.Streams)))
	for _, s := range c.Streams {
		var b [streamStateSize]byte
		b[0], b[1] = s.Source, s.Kind
		binary.LittleEndian.PutUint32(b[4:], s.Sensor)
		binary.LittleEndian.PutUint32(b[8:], s.Period)
		binary.LittleEndian.PutUint64(b[16:], s.Acked)
		binary.LittleEndian.PutUint64(b[24:], s.LastSeq)
		binary.LittleEndian.PutUint64(b[32:], s.Reserved)
		dst = append(dst, b[:]...)
	}
	dst = binary.LittleEndian.AppendUint64(dst, c.End.Seg)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(c.End.Off))
	dst = binary.LittleEndian.AppendUint64(dst, c.NewBase)
	boot := c.Boot
	if len(boot) > 40 {
		boot = boot[:40]
	}
	dst = append(dst, byte(len(boot)))
	dst = append(dst, boot...)
	dst = binary.LittleEndian.AppendUint64(dst, c.JournalEpoch)
	dst = binary.LittleEndian.AppendUint64(dst, c.JournalOff)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(c.Stages)))
	dst = append(dst, c.Stages...)
	dst = append(dst, c.Frames...)
	payload := dst[start+checkpointHeaderSize:]
	binary.LittleEndian.PutUint32(dst[start+16:], uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(dst[start:start+20], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(dst[start+20:], crc)
	return dst
}

// hasStepFrame reports whether frames (well-formed, back to back) hold a
// frame of StepVersion.
func hasStepFrame(frames []byte) bool {
	for off := 0; off+FrameHeaderSize <= len(frames); {
		if frames[off+4] == StepVersion {
			return true
		}
		off += FrameHeaderSize + int(binary.LittleEndian.Uint16(frames[off+14:]))
	}
	return false
}

// DecodeCheckpoint decodes and verifies a checkpoint file, frames included.
func DecodeCheckpoint(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(b) < checkpointHeaderSize+4 {
		return c, ErrShort
	}
	if binary.LittleEndian.Uint32(b) != CheckpointMagic {
		return c, ErrMagic
	}
	version := b[4]
	if version < 1 || version > CheckpointVersion {
		return c, fmt.Errorf("%w %d (this build reads checkpoint versions 1 to %d)", ErrVersion, version, CheckpointVersion)
	}
	n := int(binary.LittleEndian.Uint32(b[16:]))
	if len(b) != checkpointHeaderSize+n {
		return c, fmt.Errorf("%w: checkpoint holds %d payload bytes, header says %d", ErrShort, len(b)-checkpointHeaderSize, n)
	}
	payload := b[checkpointHeaderSize:]
	if crc32.Update(crc32.Checksum(b[:20], castagnoli), castagnoli, payload) != binary.LittleEndian.Uint32(b[20:]) {
		return c, ErrChecksum
	}
	c.Clean = b[5]&1 != 0
	c.Gen = binary.LittleEndian.Uint64(b[8:])
	count := int(binary.LittleEndian.Uint32(payload))
	p := payload[4:]
	if count < 0 || count > len(p)/streamStateSize {
		return c, fmt.Errorf("%w: %d streams", ErrFormat, count)
	}
	c.Streams = make([]StreamState, count)
	for i := range c.Streams {
		e := p[i*streamStateSize:]
		c.Streams[i] = StreamState{
			Source: e[0], Kind: e[1],
			Sensor:   binary.LittleEndian.Uint32(e[4:]),
			Period:   binary.LittleEndian.Uint32(e[8:]),
			Acked:    binary.LittleEndian.Uint64(e[16:]),
			LastSeq:  binary.LittleEndian.Uint64(e[24:]),
			Reserved: binary.LittleEndian.Uint64(e[32:]),
		}
		if s := c.Streams[i]; s.Acked > s.LastSeq || s.LastSeq > s.Reserved || (s.Kind != KindTSD && s.Kind != KindEVT) {
			return c, fmt.Errorf("%w: stream %d/%d positions acked %d last %d reserved %d", ErrFormat,
				s.Source, s.Sensor, s.Acked, s.LastSeq, s.Reserved)
		}
	}
	rest := p[count*streamStateSize:]
	if version >= 2 {
		if len(rest) < 24 {
			return c, fmt.Errorf("%w: log end", ErrFormat)
		}
		c.End = Pos{Seg: binary.LittleEndian.Uint64(rest), Off: int64(binary.LittleEndian.Uint64(rest[8:]))}
		c.NewBase = binary.LittleEndian.Uint64(rest[16:])
		rest = rest[24:]
		if len(rest) < 1 || int(rest[0]) > 40 || len(rest) < 1+int(rest[0]) {
			return c, fmt.Errorf("%w: boot ID", ErrFormat)
		}
		c.Boot = string(rest[1 : 1+int(rest[0])])
		rest = rest[1+int(rest[0]):]
		if len(rest) < 16 {
			return c, fmt.Errorf("%w: journal position", ErrFormat)
		}
		c.JournalEpoch = binary.LittleEndian.Uint64(rest)
		c.JournalOff = binary.LittleEndian.Uint64(rest[8:])
		rest = rest[16:]
		if len(rest) < 4 || int(binary.LittleEndian.Uint32(rest)) > len(rest)-4 {
			return c, fmt.Errorf("%w: stage length", ErrFormat)
		}
		k := int(binary.LittleEndian.Uint32(rest))
		if k > 0 {
			c.Stages = rest[4 : 4+k]
		}
		rest = rest[4+k:]
	}
	c.Frames = rest
	for _, frames := range [][]byte{c.Stages, c.Frames} {
		for off := 0; off < len(frames); {
			h, _, err := DecodeFrame(frames[off:])
			if err != nil {
				return c, fmt.Errorf("checkpoint frame at %d: %w", off, err)
			}
			off += h.Size()
		}
	}
	return c, nil
}

// IsNewerVersion reports whether err says a file was written by a newer
// format than this build reads: Open refuses such a store rather than
// treat it as damage.
func IsNewerVersion(b []byte) bool {
	return len(b) > 4 && binary.LittleEndian.Uint32(b) == CheckpointMagic && b[4] > CheckpointVersion
}
