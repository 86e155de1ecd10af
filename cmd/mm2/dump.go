package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/humanize"
)

const dumpFields = `Each record: stream ("source/sensor"), source (number), sensor, kind (tsd|evt),
seq (per-stream sequence number), utc_ms, utc (RFC 3339, UTC, milliseconds),
value (the raw uint32) and float (the same 32 bits as a float32; in JSONL null
when NaN or infinite). Streams in (source, sensor) order, each in ascending
sequence order. The store is opened read-only: nothing on disk changes.`

// dumpBatch is how many records are decoded at a time: the output streams,
// the store is never held in memory whole.
const dumpBatch = 512

func runDump(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("dump", stderr, "usage: mm2 dump [-d DIR] [-f jsonl|csv] [--stream SRC/SENSOR[,...]] [--pool-bytes N]\nWrites every unacknowledged record of a store.",
		"exit status: 0 done, 1 not a store, the store cannot be read or a stream is not in it, 2 bad usage", dumpFields)
	dir := fs.String("dir", defaultStoreDir, "store directory")
	format := fs.String("format", "jsonl", "jsonl (one JSON object a line) or csv (with a header line)")
	only := fs.String("stream", "", "only these streams: SRC/SENSOR[,SRC/SENSOR...], SRC a name (gateway, hosted, ble, can) or a number")
	poolBytes := fs.Int("pool-bytes", 0, "RAM pool of the reading manager (0 = the linux profile's); at least the writer's, or RAM records do not fit")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mm2 dump: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *format != "jsonl" && *format != "csv" {
		fmt.Fprintf(stderr, "mm2 dump: unknown format %q (jsonl or csv)\n", *format)
		return exitUsage
	}
	if *poolBytes < 0 {
		fmt.Fprintln(stderr, "mm2 dump: --pool-bytes must be >= 0")
		return exitUsage
	}
	var want []mm2.StreamID
	if *only != "" {
		for _, f := range strings.Split(*only, ",") {
			id, err := parseStreamID(strings.TrimSpace(f))
			if err != nil {
				fmt.Fprintf(stderr, "mm2 dump: --stream: %v\n", err)
				return exitUsage
			}
			want = append(want, id)
		}
	}
	m, err := openStore(*dir, *poolBytes)
	if err != nil {
		fmt.Fprintf(stderr, "mm2 dump: %v\n", storeErr(*dir, err))
		return exitProblem
	}
	defer m.Close()
	if dmg := m.Damage(); len(dmg) > 0 {
		fmt.Fprintf(stderr, "mm2 dump: the store is damaged (%s, first: %v); dumping what can be read (mm2 fsck for details)\n", humanize.Count(len(dmg), "place"), dmg[0])
	}
	ids := m.Streams()
	if want != nil {
		have := map[mm2.StreamID]bool{}
		for _, id := range ids {
			have[id] = true
		}
		for _, id := range want {
			if !have[id] {
				fmt.Fprintf(stderr, "mm2 dump: no stream %v in the store\n", id)
				return exitProblem
			}
		}
		ids = want
	}
	bw := bufio.NewWriterSize(stdout, 64<<10)
	var rw recordWriter
	if *format == "csv" {
		rw = newCSVWriter(bw)
	} else {
		rw = &jsonlWriter{w: bw}
	}
	n, err := dumpStreams(m, ids, rw)
	if ferr := rw.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "mm2 dump: after %s: %v\n", humanize.Count(n, "record"), err)
		return exitProblem
	}
	return exitOK
}

// parseStreamID reads SRC/SENSOR, SRC a source name or number.
func parseStreamID(s string) (mm2.StreamID, error) {
	src, sensor, ok := strings.Cut(s, "/")
	if !ok {
		return mm2.StreamID{}, fmt.Errorf("%q: want SRC/SENSOR, e.g. can/7 or 3/7", s)
	}
	id := mm2.StreamID{}
	found := false
	for i := range mm2.MaxSources {
		if strings.EqualFold(src, mm2.Source(i).String()) || src == strconv.Itoa(i) {
			id.Source, found = mm2.Source(i), true
			break
		}
	}
	if !found {
		return mm2.StreamID{}, fmt.Errorf("%q: unknown source %q (gateway, hosted, ble, can, or 0..%d)", s, src, mm2.MaxSources-1)
	}
	n, err := strconv.ParseUint(sensor, 10, 32)
	if err != nil {
		return mm2.StreamID{}, fmt.Errorf("%q: sensor %q is not a uint32", s, sensor)
	}
	id.Sensor = uint32(n)
	return id, nil
}

// dumpStreams writes every unread record of each stream, a batch at a time.
//
// PeekBulk always starts at the oldest unread record and Peek(i) walks the
// disk part's frames from the start for every i, so paging through a long
// stream with them costs time quadratic in its length. The manager is
// read-only and private to this command, so ReadBulk is used instead: it
// marks records pending in this process's memory only, which nothing
// persists (no ACK is ever made, and the read-only Close writes nothing).
func dumpStreams(m *mm2.Manager, ids []mm2.StreamID, rw recordWriter) (int, error) {
	buf := make([]mm2.Sample, dumpBatch)
	total := 0
	for _, id := range ids {
		s, err := m.Stream(id)
		if err != nil {
			return total, err
		}
		rw.stream(id, s.Kind())
		for left := s.Counts().New; left > 0; {
			n, err := s.ReadBulk(buf[:min(len(buf), left)])
			if err != nil {
				return total, fmt.Errorf("stream %v: %w", id, err)
			}
			for _, smp := range buf[:n] {
				if err := rw.record(smp); err != nil {
					return total, err
				}
				total++
			}
			left -= n
		}
	}
	return total, nil
}

// recordWriter formats records of one stream at a time.
type recordWriter interface {
	stream(id mm2.StreamID, kind mm2.Kind)
	record(s mm2.Sample) error
	flush() error
}

type jsonlWriter struct {
	w      *bufio.Writer
	prefix []byte // the stream's fields, the same for every record
	line   []byte
}

func (j *jsonlWriter) stream(id mm2.StreamID, kind mm2.Kind) {
	name, _ := json.Marshal(id.String())
	j.prefix = fmt.Appendf(j.prefix[:0], `{"stream":%s,"source":%d,"sensor":%d,"kind":"%s"`, name, uint8(id.Source), id.Sensor, kind)
}

func (j *jsonlWriter) record(s mm2.Sample) error {
	b := append(j.line[:0], j.prefix...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, s.Seq, 10)
	b = append(b, `,"utc_ms":`...)
	b = strconv.AppendInt(b, s.UTCms, 10)
	b = append(b, `,"utc":"`...)
	b = append(b, utcString(s.UTCms)...)
	b = append(b, `","value":`...)
	b = strconv.AppendUint(b, uint64(s.Value), 10)
	b = append(b, `,"float":`...)
	f := math.Float32frombits(s.Value)
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	b = append(b, "}\n"...)
	j.line = b
	_, err := j.w.Write(b)
	return err
}

func (j *jsonlWriter) flush() error { return j.w.Flush() }

type csvWriter struct {
	bw  *bufio.Writer
	w   *csv.Writer
	row []string
}

func newCSVWriter(bw *bufio.Writer) *csvWriter {
	c := &csvWriter{bw: bw, w: csv.NewWriter(bw), row: make([]string, 9)}
	_ = c.w.Write([]string{"stream", "source", "sensor", "kind", "seq", "utc_ms", "utc", "value", "float"})
	return c
}

func (c *csvWriter) stream(id mm2.StreamID, kind mm2.Kind) {
	c.row[0], c.row[1], c.row[2], c.row[3] = id.String(), strconv.Itoa(int(id.Source)), strconv.FormatUint(uint64(id.Sensor), 10), kind.String()
}

func (c *csvWriter) record(s mm2.Sample) error {
	c.row[4] = strconv.FormatUint(s.Seq, 10)
	c.row[5] = strconv.FormatInt(s.UTCms, 10)
	c.row[6] = utcString(s.UTCms)
	c.row[7] = strconv.FormatUint(uint64(s.Value), 10)
	c.row[8] = strconv.FormatFloat(float64(math.Float32frombits(s.Value)), 'g', -1, 32)
	return c.w.Write(c.row)
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.bw.Flush()
}
