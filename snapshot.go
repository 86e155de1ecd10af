package mm2

import "github.com/mm2go/mm2/internal/spool"

// snapCopy is what a checkpoint needs of the RAM tier and of the frames
// being filled, copied under the lock so that the expensive part of the
// checkpoint (decoding every RAM record into frames, the CRCs, the file's
// encoding) runs without it: a write waits for a few memory copies, not for
// the encoding of the whole pool. It belongs to the checkpoint being
// encoded; the next snapshot comes only after that one's bytes are made
// (a synchronous checkpoint waits for one in flight).
type snapCopy struct {
	shadow  *Manager // holds only pool: a copy of the manager's, read by the copied streams
	streams []Stream // copies of the streams with records in RAM, their m the shadow
	ram     []int    // how many unacknowledged records each has in RAM
	stageH  []spool.FrameHeader
	stageB  []byte // the stages' payloads, one after the other
	states  []spool.StreamState
	frames  []byte        // the RAM frames, encoded from the copy
	stages  []byte        // the stages, encoded
	build   spool.Builder // the frame being built from RAM records
}

// snapshot takes what a checkpoint holds, under the lock: every stream's
// cursors as they stand, and copies of the RAM tier and the stages that
// encodeSnapshot turns into frames later, with or without the lock.
func (d *diskTier) snapshot(clean bool) spool.Checkpoint {
	m := d.m
	sc := &d.snap
	if sc.shadow == nil {
		sc.shadow = &Manager{}
	}
	sc.shadow.pool = m.pool.CopyTo(sc.shadow.pool)
	c := spool.Checkpoint{Gen: d.gen + 1, Clean: clean, Streams: sc.states[:0]}
	sc.streams, sc.ram = sc.streams[:0], sc.ram[:0]
	sc.stageH, sc.stageB = sc.stageH[:0], sc.stageB[:0]
	for i := 0; i < m.nStream; i++ {
		s := m.at(uint16(i))
		ds := d.stream(s)
		c.Streams = append(c.Streams, spool.StreamState{
			Source: uint8(s.source), Kind: uint8(s.kind), Sensor: s.sensor, Period: s.periodMs,
			Acked: s.acked, LastSeq: ds.lastSeq, Reserved: d.reserveAt(ds),
		})
		if ram := s.ramAvail(); ram > 0 {
			sc.streams = append(sc.streams, *s)
			sc.streams[len(sc.streams)-1].m = sc.shadow
			sc.ram = append(sc.ram, ram)
		}
		if h := ds.stage.H; h.Count > 0 && h.LastSeq() >= ds.ack.seq {
			h.Len = uint16(len(ds.stage.Payload))
			sc.stageH = append(sc.stageH, h)
			sc.stageB = append(sc.stageB, ds.stage.Payload...)
		}
	}
	sc.states = c.Streams
	c.End, c.NewBase, c.Boot = d.log.End(), d.newBase, d.boot
	return c
}

// encodeSnapshot appends checkpoint c, with the frames of the copies its
// snapshot took, to dst. It needs no lock: it reads only the copies.
func (d *diskTier) encodeSnapshot(dst []byte, c *spool.Checkpoint) []byte {
	sc := &d.snap
	frames := sc.frames[:0]
	for i := range sc.streams {
		frames = sc.appendRAMFrames(frames, &sc.streams[i], sc.ram[i])
	}
	stages, off := sc.stages[:0], 0
	for _, h := range sc.stageH {
		n := int(h.Len)
		stages = spool.AppendFrame(stages, h, sc.stageB[off:off+n])
		off += n
	}
	sc.frames, sc.stages = frames, stages
	c.Frames, c.Stages = frames, stages
	return spool.AppendCheckpoint(dst, c)
}

// appendRAMFrames encodes the n unacknowledged RAM records of stream copy s
// as frames.
func (sc *snapCopy) appendRAMFrames(dst []byte, s *Stream, n int) []byte {
	b := &sc.build
	b.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
	c := s.seek(int(s.headSkip))
	seq := s.acked
	for i := 0; i < n; i++ {
		smp := s.next(&c, &seq)
		if !b.AddExact(smp.Seq, smp.Value, smp.UTCms) {
			dst = spool.AppendFrame(dst, b.H, b.Payload)
			b.Reset(uint8(s.kind), uint8(s.source), s.sensor, s.periodMs)
			b.AddExact(smp.Seq, smp.Value, smp.UTCms)
		}
	}
	return spool.AppendFrame(dst, b.H, b.Payload)
}
