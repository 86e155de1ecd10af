package uplink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/mm2go/mm2"
)

// The payload format, byte by byte, is in docs/uplink.md. In short:
//
//	header  magic "M2" | version | source | uvarint batch id | uvarint run count
//	run     uvarint sensor | kind | uvarint count | uvarint first seq | records
//	record  uvarint (value XOR previous value) | varint delta-of-delta of UTC ms
//	trailer CRC-32C (Castagnoli) of everything before it, little-endian
//
// The value and time predictors restart at zero in every run, so each run
// decodes on its own.

// Format constants.
const (
	// Magic0 and Magic1 are the first two bytes of every payload: "M2".
	Magic0 = 'M'
	// Magic1 is the second byte of every payload.
	Magic1 = '2'
	// Version is the payload format version written by Encode.
	Version = 1
	// headerFixed is magic, version and source.
	headerFixed = 4
	// trailerSize is the CRC-32C.
	trailerSize = 4
	// minRecordSize: a record is at least a one-byte value and a one-byte
	// time; Decode checks counts against it before allocating.
	minRecordSize = 2
	// maxRecordSize: a 5-byte uvarint value and a 10-byte varint time.
	maxRecordSize = binary.MaxVarintLen32 + binary.MaxVarintLen64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFormat is wrapped by every Decode error.
var ErrFormat = errors.New("uplink: bad payload")

// Batch is what one Send delivers: records of one source, as runs of
// consecutive sequence numbers per stream. Every run belongs to Source: a
// run names only its sensor, so a batch cannot carry another source's data.
type Batch struct {
	Source mm2.Source
	ID     uint64 // per Uplink, +1 per batch built; a retry gets a new ID
	Runs   []Run
}

// Run is a stretch of one stream's records with consecutive sequence numbers.
type Run struct {
	Sensor  uint32
	Kind    mm2.Kind
	Samples []mm2.Sample
}

// Stream is the run's stream within the batch's source.
func (b *Batch) Stream(i int) mm2.StreamID {
	return mm2.StreamID{Source: b.Source, Sensor: b.Runs[i].Sensor}
}

// Records is the number of records in the batch.
func (b *Batch) Records() int {
	n := 0
	for i := range b.Runs {
		n += len(b.Runs[i].Samples)
	}
	return n
}

// sizer tracks the exact encoded size of a batch as records are added, so a
// batch is filled only with what fits before anything is read.
type sizer struct {
	runs  int
	total int // header without the run count, runs, trailer
	// the open run
	open          bool
	count         uint64
	lastSeq       uint64
	prevV         uint32
	prevT, prevDT int64
}

func newSizer(id uint64) sizer {
	return sizer{total: headerFixed + uvarintLen(id) + trailerSize}
}

// size is the encoded size of the batch so far.
func (z *sizer) size() int { return z.total + uvarintLen(uint64(z.runs)) }

// startRun opens a run of sensor whose first record has sequence seq.
func (z *sizer) startRun(sensor uint32, seq uint64) {
	z.runs++
	z.open = true
	z.count = 0
	z.prevV, z.prevT, z.prevDT = 0, 0, 0
	z.total += uvarintLen(uint64(sensor)) + 1 + uvarintLen(0) + uvarintLen(seq)
	z.lastSeq = seq - 1
}

// recordCost is the bytes s adds to the open run (count growth included).
func (z *sizer) recordCost(s mm2.Sample) int {
	dt := s.UTCms - z.prevT
	return uvarintLen(uint64(s.Value^z.prevV)) + varintLen(dt-z.prevDT) +
		uvarintLen(z.count+1) - uvarintLen(z.count)
}

func (z *sizer) add(s mm2.Sample, cost int) {
	dt := s.UTCms - z.prevT
	z.prevV, z.prevT, z.prevDT = s.Value, s.UTCms, dt
	z.count++
	z.lastSeq = s.Seq
	z.total += cost
}

// fit returns how many of samples (one stream's, in order) fit in limit
// bytes, opening a new run at every sequence gap, and commits them. With
// cont, samples continue the stream of the previous fit (its open run goes
// on when the sequence does); otherwise they start a new run.
func (z *sizer) fit(sensor uint32, samples []mm2.Sample, limit int, cont bool) int {
	n := 0
	z.open = z.open && cont
	for _, s := range samples {
		save := *z
		if !z.open || s.Seq != z.lastSeq+1 {
			z.startRun(sensor, s.Seq)
		}
		c := z.recordCost(s)
		if z.size()+c > limit {
			*z = save
			break
		}
		z.add(s, c)
		n++
	}
	return n
}

// EncodedSize is the exact length Encode produces for b.
func EncodedSize(b *Batch) int {
	z := newSizer(b.ID)
	for i := range b.Runs {
		r := &b.Runs[i]
		z.startRun(r.Sensor, firstSeq(r))
		for _, s := range r.Samples {
			z.add(s, z.recordCost(s))
		}
	}
	return z.size()
}

func firstSeq(r *Run) uint64 {
	if len(r.Samples) == 0 {
		return 0
	}
	return r.Samples[0].Seq
}

// Encode appends the payload of b to dst. It fails on a batch Decode would
// refuse: an empty run, a kind other than TSD or EVT, sequence numbers that
// are not consecutive within a run, or an out-of-range source.
func Encode(dst []byte, b *Batch) ([]byte, error) {
	if b.Source >= mm2.MaxSources {
		return dst, fmt.Errorf("uplink: encode: source %d out of range", b.Source)
	}
	start := len(dst)
	dst = append(dst, Magic0, Magic1, Version, byte(b.Source))
	dst = binary.AppendUvarint(dst, b.ID)
	dst = binary.AppendUvarint(dst, uint64(len(b.Runs)))
	for i := range b.Runs {
		r := &b.Runs[i]
		if len(r.Samples) == 0 {
			return dst[:start], fmt.Errorf("uplink: encode: run %d of sensor %d is empty", i, r.Sensor)
		}
		if r.Kind != mm2.TSD && r.Kind != mm2.EVT {
			return dst[:start], fmt.Errorf("uplink: encode: run %d: bad kind %d", i, r.Kind)
		}
		if r.Samples[0].Seq == 0 {
			return dst[:start], fmt.Errorf("uplink: encode: run %d of sensor %d starts at seq 0", i, r.Sensor)
		}
		dst = binary.AppendUvarint(dst, uint64(r.Sensor))
		dst = append(dst, byte(r.Kind))
		dst = binary.AppendUvarint(dst, uint64(len(r.Samples)))
		dst = binary.AppendUvarint(dst, r.Samples[0].Seq)
		var prevV uint32
		var prevT, prevDT int64
		for j, s := range r.Samples {
			if s.Seq != r.Samples[0].Seq+uint64(j) {
				return dst[:start], fmt.Errorf("uplink: encode: run %d of sensor %d: seq %d not consecutive", i, r.Sensor, s.Seq)
			}
			dt := s.UTCms - prevT
			dst = binary.AppendUvarint(dst, uint64(s.Value^prevV))
			dst = binary.AppendVarint(dst, dt-prevDT)
			prevV, prevT, prevDT = s.Value, s.UTCms, dt
		}
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), nil
}

// Decode parses one payload. Errors wrap ErrFormat and say at which byte.
// It never allocates more than the payload's length can justify.
func Decode(p []byte) (Batch, error) {
	var b Batch
	bad := func(off int, format string, a ...any) (Batch, error) {
		return Batch{}, fmt.Errorf("%w at byte %d: %s", ErrFormat, off, fmt.Sprintf(format, a...))
	}
	if len(p) < headerFixed+2+trailerSize {
		return bad(0, "%d bytes is shorter than any payload", len(p))
	}
	if p[0] != Magic0 || p[1] != Magic1 {
		return bad(0, "magic %q", p[:2])
	}
	if p[2] != Version {
		return bad(2, "version %d, want %d", p[2], Version)
	}
	body := len(p) - trailerSize
	if got, want := crc32.Checksum(p[:body], castagnoli), binary.LittleEndian.Uint32(p[body:]); got != want {
		return bad(body, "CRC-32C %08x, payload says %08x", got, want)
	}
	if p[3] >= mm2.MaxSources {
		return bad(3, "source %d out of range", p[3])
	}
	b.Source = mm2.Source(p[3])
	d := decoder{p: p[:body], off: headerFixed}
	b.ID = d.uvarint()
	nRuns := d.uvarint()
	if d.err != "" {
		return bad(d.off, "header: %s", d.err)
	}
	// A run takes at least 4 bytes of header and one record.
	if nRuns == 0 || nRuns > uint64(body-d.off)/(4+minRecordSize) {
		return bad(d.off, "run count %d for %d bytes", nRuns, body-d.off)
	}
	b.Runs = make([]Run, 0, nRuns)
	for i := range nRuns {
		runAt := d.off
		sensor := d.uvarint()
		kind := d.byte()
		count := d.uvarint()
		first := d.uvarint()
		switch {
		case d.err != "":
			return bad(d.off, "run %d: %s", i, d.err)
		case sensor > math.MaxUint32:
			return bad(runAt, "run %d: sensor %d out of range", i, sensor)
		case mm2.Kind(kind) != mm2.TSD && mm2.Kind(kind) != mm2.EVT:
			return bad(runAt, "run %d: bad kind %d", i, kind)
		case count == 0 || count > uint64(body-d.off)/minRecordSize:
			return bad(runAt, "run %d: record count %d for %d bytes", i, count, body-d.off)
		case first == 0 || first+count-1 < first:
			return bad(runAt, "run %d: first seq %d with %d records", i, first, count)
		}
		r := Run{Sensor: uint32(sensor), Kind: mm2.Kind(kind), Samples: make([]mm2.Sample, count)}
		var prevV uint32
		var prevT, prevDT int64
		for j := range r.Samples {
			xv := d.uvarint()
			dod := d.varint()
			if d.err != "" {
				return bad(d.off, "run %d record %d: %s", i, j, d.err)
			}
			if xv > math.MaxUint32 {
				return bad(d.off, "run %d record %d: value out of range", i, j)
			}
			prevV ^= uint32(xv)
			prevDT += dod
			prevT += prevDT
			r.Samples[j] = mm2.Sample{Value: prevV, UTCms: prevT, Seq: first + uint64(j)}
		}
		b.Runs = append(b.Runs, r)
	}
	if d.off != body {
		return bad(d.off, "%d bytes after the last run", body-d.off)
	}
	return b, nil
}

type decoder struct {
	p   []byte
	off int
	err string
}

func (d *decoder) uvarint() uint64 {
	if d.err != "" {
		return 0
	}
	v, n := binary.Uvarint(d.p[d.off:])
	if n <= 0 {
		d.err = "truncated or overlong uvarint"
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != "" {
		return 0
	}
	v, n := binary.Varint(d.p[d.off:])
	if n <= 0 {
		d.err = "truncated or overlong varint"
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) byte() byte {
	if d.err != "" {
		return 0
	}
	if d.off >= len(d.p) {
		d.err = "truncated"
		return 0
	}
	d.off++
	return d.p[d.off-1]
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}
