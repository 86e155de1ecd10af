package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// storeRecord is a record the test store must hold, unacknowledged.
type storeRecord struct {
	seq   uint64
	utc   int64
	value uint32
}

// testStore is a store written into a directory with the library and what
// it holds.
type testStore struct {
	dir     string
	streams []mm2.StreamID                 // in (source, sensor) order
	kinds   map[mm2.StreamID]mm2.Kind      // of each stream
	want    map[mm2.StreamID][]storeRecord // unacknowledged records, oldest first
	acked   map[mm2.StreamID]int           // records acknowledged before Close
}

// writeStore writes a store that spills to disk: a small pool (2 KB, 64
// sectors) and 4 KB segments, four streams of both kinds on four sources,
// some records acknowledged and some pending (so unread again after the
// restart), then Close.
func writeStore(t *testing.T, dir string) *testStore {
	t.Helper()
	now := int64(1_700_000_000_000)
	p := mm2.ProfileLinux
	p.PoolBytes = 2048
	m, err := mm2.Open(mm2.Options{Profile: p, Dir: dir, SegmentBytes: 4096,
		Clock: func() time.Time { return time.UnixMilli(now) }})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testStore{dir: dir, kinds: map[mm2.StreamID]mm2.Kind{}, want: map[mm2.StreamID][]storeRecord{}, acked: map[mm2.StreamID]int{}}
	type spec struct {
		id     mm2.StreamID
		kind   mm2.Kind
		period time.Duration
	}
	specs := []spec{
		{mm2.StreamID{Source: mm2.Gateway, Sensor: 1}, mm2.TSD, 100 * time.Millisecond},
		{mm2.StreamID{Source: mm2.Hosted, Sensor: 2}, mm2.EVT, 0},
		{mm2.StreamID{Source: mm2.BLE, Sensor: 3}, mm2.EVT, 0},
		{mm2.StreamID{Source: mm2.CAN, Sensor: 7}, mm2.TSD, 100 * time.Millisecond},
	}
	handles := make([]*mm2.Stream, len(specs))
	for i, sp := range specs {
		if handles[i], err = m.Configure(sp.id, sp.kind, sp.period); err != nil {
			t.Fatal(err)
		}
		ts.streams = append(ts.streams, sp.id)
		ts.kinds[sp.id] = sp.kind
	}
	const perStream = 400
	all := map[mm2.StreamID][]storeRecord{}
	for i := range perStream {
		for k, s := range handles {
			id := specs[k].id
			v := uint32(k*100_000 + i)
			if k == 2 {
				v = math.Float32bits(float32(i)*0.25 - 10) // floats, negative ones too
			}
			utc := now
			if specs[k].kind == mm2.TSD {
				err = s.WriteTSD(v)
			} else {
				utc -= int64(k) // events carry their own time
				err = s.WriteEVT(v, utc)
			}
			if err != nil {
				t.Fatalf("write %d to %v: %v", i, id, err)
			}
			all[id] = append(all[id], storeRecord{seq: uint64(i + 1), utc: utc, value: v})
		}
		now += 100
	}
	// The gateway stream's first 50 are acknowledged, the CAN stream's first
	// 30 pending at Close (so unread after it).
	read := func(s *mm2.Stream, n int) {
		buf := make([]mm2.Sample, n)
		if got, err := s.ReadBulk(buf); err != nil || got != n {
			t.Fatalf("ReadBulk %v: %d, %v", s.ID(), got, err)
		}
	}
	read(handles[0], 50)
	if _, err := handles[0].Ack(); err != nil {
		t.Fatal(err)
	}
	ts.acked[specs[0].id] = 50
	read(handles[3], 30)
	st := m.Stats()
	if st.DiskRecords == 0 || st.DiskFiles < 2 {
		t.Fatalf("the test store does not spill to several segments: %+v", st)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ts.streams {
		ts.want[id] = all[id][ts.acked[id]:]
	}
	return ts
}

// hashStore maps every file under dir to a hash of its content.
func hashStore(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	h := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		h[p] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func sameHashes(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// copyDir copies a flat store directory.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(to, e.Name()), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func statusOf(t *testing.T, dir string) statusJSON {
	t.Helper()
	out, errOut, code := run(t, "status", "--dir", dir, "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d, %s", code, errOut)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json output does not parse: %v\n%s", err, out)
	}
	return st
}

// dumped is one record of a dump, as parsed back.
type dumped struct {
	stream, kind string
	rec          storeRecord
	float        *float64
}

func parseJSONL(t *testing.T, out string) []dumped {
	t.Helper()
	var recs []dumped
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r struct {
			Stream string   `json:"stream"`
			Source uint8    `json:"source"`
			Sensor uint32   `json:"sensor"`
			Kind   string   `json:"kind"`
			Seq    uint64   `json:"seq"`
			UTCms  int64    `json:"utc_ms"`
			UTC    string   `json:"utc"`
			Value  uint32   `json:"value"`
			Float  *float64 `json:"float"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("jsonl line %d %q: %v", i+1, line, err)
		}
		if want := (mm2.StreamID{Source: mm2.Source(r.Source), Sensor: r.Sensor}).String(); want != r.Stream {
			t.Fatalf("line %d: stream %q but source %d sensor %d", i+1, r.Stream, r.Source, r.Sensor)
		}
		if tm, err := time.Parse(time.RFC3339Nano, r.UTC); err != nil || tm.UnixMilli() != r.UTCms || !strings.HasSuffix(r.UTC, "Z") {
			t.Fatalf("line %d: utc %q does not say utc_ms %d (%v)", i+1, r.UTC, r.UTCms, err)
		}
		recs = append(recs, dumped{stream: r.Stream, kind: r.Kind, rec: storeRecord{seq: r.Seq, utc: r.UTCms, value: r.Value}, float: r.Float})
	}
	return recs
}

func parseCSV(t *testing.T, out string) []dumped {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "stream,source,sensor,kind,seq,utc_ms,utc,value,float" {
		t.Fatalf("csv header %v", rows[:min(1, len(rows))])
	}
	var recs []dumped
	for i, r := range rows[1:] {
		seq, err1 := strconv.ParseUint(r[4], 10, 64)
		utc, err2 := strconv.ParseInt(r[5], 10, 64)
		v, err3 := strconv.ParseUint(r[7], 10, 32)
		f, err4 := strconv.ParseFloat(r[8], 32)
		tm, err5 := time.Parse(time.RFC3339Nano, r[6])
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil || tm.UnixMilli() != utc {
			t.Fatalf("csv row %d %v: %v", i+1, r, err)
		}
		recs = append(recs, dumped{stream: r[0], kind: r[3], rec: storeRecord{seq: seq, utc: utc, value: uint32(v)}, float: &f})
	}
	return recs
}

// checkDump fails unless recs are exactly want's records, stream after
// stream in (source, sensor) order, each in ascending sequence order, with
// the right kind, time, value and float.
func checkDump(t *testing.T, what string, ts *testStore, want map[mm2.StreamID][]storeRecord, recs []dumped) {
	t.Helper()
	i := 0
	for _, id := range ts.streams {
		for _, w := range want[id] {
			if i >= len(recs) {
				t.Fatalf("%s: %d records, want more (next %v seq %d)", what, len(recs), id, w.seq)
			}
			got := recs[i]
			if got.stream != id.String() || got.rec != w || got.kind != ts.kinds[id].String() {
				t.Fatalf("%s: record %d is %s %s %+v, want %v %s %+v", what, i, got.stream, got.kind, got.rec, id, ts.kinds[id], w)
			}
			f := math.Float32frombits(w.value)
			if got.float == nil || float32(*got.float) != f {
				t.Fatalf("%s: record %d float %v, want %v", what, i, got.float, f)
			}
			i++
		}
	}
	if i != len(recs) {
		t.Fatalf("%s: %d records, want %d", what, len(recs), i)
	}
}

func wantCount(want map[mm2.StreamID][]storeRecord) int {
	n := 0
	for _, rs := range want {
		n += len(rs)
	}
	return n
}

// Status, dump and fsck of a clean store written by the library: every
// figure and record as written, and not one byte of the store changed.
func TestToolsOnAStore(t *testing.T) {
	ts := writeStore(t, t.TempDir())
	before := hashStore(t, ts.dir)

	st := statusOf(t, ts.dir)
	if st.Totals.Streams != 4 || st.Totals.ActiveStreams != 4 || st.Totals.New != wantCount(ts.want) || st.Totals.Pending != 0 ||
		st.Totals.Total != st.Totals.New || st.Disk.Files < 2 || st.Disk.Bytes == 0 || st.Disk.Records == 0 ||
		st.Disk.RecordsRecovered != uint64(wantCount(ts.want)) || st.Disk.RecordsSkipped != 0 || len(st.Damage) != 0 ||
		st.Pool.SectorsTotal != 2048 || st.Pool.Pressure != "normal" || st.Totals.Drops.Total != 0 {
		t.Errorf("status totals: %+v", st)
	}
	if len(st.Sources) != 4 {
		t.Fatalf("status: %d sources, want 4: %+v", len(st.Sources), st.Sources)
	}
	ram, disk := 0, 0
	for i, src := range st.Sources {
		id := ts.streams[i]
		if len(src.Streams) != 1 || src.Name != id.Source.String() || src.Source != uint8(id.Source) {
			t.Fatalf("source %d: %+v", i, src)
		}
		x := src.Streams[0]
		w := ts.want[id]
		if x.Stream != id.String() || x.Kind != ts.kinds[id].String() || x.New != len(w) || x.Total != len(w) ||
			x.Written != 400 || x.Acked != uint64(ts.acked[id]) || x.SectorsDisk == 0 || x.SectorsRAM == 0 ||
			x.OldestMs == nil || *x.OldestMs != w[0].utc || x.Oldest != time.UnixMilli(w[0].utc).UTC().Format("2006-01-02T15:04:05.000Z") ||
			src.New != x.New || src.Total != x.Total || src.SectorsRAM != x.SectorsRAM || src.Oldest != x.Oldest {
			t.Errorf("stream %v: %+v, want %d records from %d", id, x, len(w), w[0].utc)
		}
		ram += x.SectorsRAM
		disk += x.SectorsDisk
	}
	if st.Totals.SectorsRAM != ram || st.Totals.SectorsDisk != disk || st.Pool.SectorsUsed != ram {
		t.Errorf("sector totals %+v, streams sum to ram %d disk %d", st.Totals, ram, disk)
	}

	for _, view := range []string{"all", "ram", "disk", "use"} {
		out, errOut, code := run(t, "status", "--dir", ts.dir, "--view", view)
		if code != 0 || errOut != "" || !strings.Contains(out, "total") {
			t.Errorf("status --view %s: exit %d, %s\n%s", view, code, errOut, out)
		}
		if view != "ram" && view != "disk" && !strings.Contains(out, "can/7") && !strings.Contains(out, "can ") {
			t.Errorf("status --view %s lacks the CAN source:\n%s", view, out)
		}
	}
	out, _, _ := run(t, "status", "--dir", ts.dir)
	for _, want := range []string{"gateway/1", "hosted/2", "ble/3", "can/7", "segment files", "recovered " + strconv.Itoa(wantCount(ts.want)) + " records",
		time.UnixMilli(ts.want[ts.streams[0]][0].utc).UTC().Format("2006-01-02T15:04:05.000Z")} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	out, errOut, code := run(t, "dump", "--dir", ts.dir)
	if code != 0 || errOut != "" {
		t.Fatalf("dump: exit %d, %s", code, errOut)
	}
	checkDump(t, "jsonl", ts, ts.want, parseJSONL(t, out))
	out, errOut, code = run(t, "dump", "--dir", ts.dir, "--format", "csv")
	if code != 0 || errOut != "" {
		t.Fatalf("dump --format csv: exit %d, %s", code, errOut)
	}
	checkDump(t, "csv", ts, ts.want, parseCSV(t, out))
	one := ts.streams[2]
	out, _, code = run(t, "dump", "--dir", ts.dir, "--stream", "BLE/3")
	if code != 0 {
		t.Fatalf("dump --stream BLE/3: exit %d", code)
	}
	only := &testStore{streams: []mm2.StreamID{one}, kinds: ts.kinds}
	checkDump(t, "--stream", only, ts.want, parseJSONL(t, out))

	out, errOut, code = run(t, "fsck", "--dir", ts.dir)
	if code != 0 || !strings.Contains(out, "clean") || !strings.Contains(out, "checkpoint valid") {
		t.Errorf("fsck of a clean store: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = run(t, "fsck", "--dir", ts.dir, "--json")
	var fr fsckJSON
	if err := json.Unmarshal([]byte(out), &fr); err != nil || code != 0 || !fr.Clean || !fr.Checkpoint ||
		fr.Segments != st.Disk.Files || fr.Bytes != st.Disk.Bytes || fr.Frames == 0 || fr.Records < st.Disk.Records || len(fr.Damage) != 0 {
		t.Errorf("fsck --json: exit %d, %v\n%s", code, err, out)
	}

	if after := hashStore(t, ts.dir); !sameHashes(before, after) {
		t.Errorf("status, dump or fsck changed the store")
	}
}

// frameAt finds the frame of a segment file that holds byte off, per
// docs/format.md: a 16-byte segment header, then 48-byte frame headers
// with the payload length at +14. It returns the frame's offset, stream,
// first sequence number and count; last says whether it is the file's
// last frame.
func frameAt(t *testing.T, b []byte, off int) (start int, id mm2.StreamID, first uint64, count int, last bool) {
	t.Helper()
	for p := 16; p+48 <= len(b); {
		size := 48 + int(binary.LittleEndian.Uint16(b[p+14:]))
		if off < p+size {
			id = mm2.StreamID{Source: mm2.Source(b[p+6]), Sensor: binary.LittleEndian.Uint32(b[p+8:])}
			return p, id, binary.LittleEndian.Uint64(b[p+16:]), int(binary.LittleEndian.Uint16(b[p+12:])), p+size >= len(b)
		}
		p += size
	}
	t.Fatalf("no frame at offset %d of %d bytes", off, len(b))
	return
}

// A damaged copy: a byte flipped in the middle of a segment. Status and
// dump still read it (without changing it), fsck reports the file and
// offset and exits 1, fsck --repair quarantines a copy and rewrites the
// file, and the next fsck is clean.
func TestToolsOnADamagedStore(t *testing.T) {
	ts := writeStore(t, t.TempDir())
	dir := t.TempDir()
	copyDir(t, ts.dir, dir)
	const seg = "seg-0000000000000001.mm2"
	name := filepath.Join(dir, seg)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	start, id, first, count, last := frameAt(t, b, len(b)/2)
	if last { // damage in the middle, not a torn tail
		start, id, first, count, _ = frameAt(t, b, start-1)
	}
	b[start+48+2] ^= 0x55 // a payload byte: the header still parses, the CRC fails
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[mm2.StreamID][]storeRecord{}
	lost := 0
	for sid, rs := range ts.want {
		for _, r := range rs {
			if sid == id && r.seq >= first && r.seq < first+uint64(count) {
				lost++
				continue
			}
			want[sid] = append(want[sid], r)
		}
	}
	before := hashStore(t, dir)

	st := statusOf(t, dir)
	if len(st.Damage) != 1 || st.Damage[0].File != seg || st.Damage[0].Offset != int64(start) ||
		st.Disk.RecordsSkipped != uint64(count) || st.Totals.Total != wantCount(want) {
		t.Errorf("status of the damaged copy: damage %+v, skipped %d (frame of %d at %d), total %d want %d",
			st.Damage, st.Disk.RecordsSkipped, count, start, st.Totals.Total, wantCount(want))
	}
	out, _, code := run(t, "status", "--dir", dir)
	if code != 0 || !strings.Contains(out, seg+" offset "+strconv.Itoa(start)) {
		t.Errorf("status of the damaged copy: exit %d\n%s", code, out)
	}
	out, errOut, code := run(t, "dump", "--dir", dir)
	if code != 0 || !strings.Contains(errOut, "damaged") {
		t.Errorf("dump of the damaged copy: exit %d, stderr %q", code, errOut)
	}
	checkDump(t, "dump of the damaged copy", ts, want, parseJSONL(t, out))
	if lost == 0 {
		t.Errorf("the damaged frame (%v seq %d+%d) held no unacknowledged record", id, first, count)
	}

	out, _, code = run(t, "fsck", "--dir", dir)
	if code != 1 || !strings.Contains(out, seg+" offset "+strconv.Itoa(start)+":") {
		t.Errorf("fsck of the damaged copy: exit %d, want 1 and %s offset %d\n%s", code, seg, start, out)
	}
	out, _, code = run(t, "fsck", "--dir", dir, "--json")
	var fr fsckJSON
	if err := json.Unmarshal([]byte(out), &fr); err != nil || code != 1 || fr.Clean || len(fr.Damage) != 1 ||
		fr.Damage[0].File != seg || fr.Damage[0].Offset != int64(start) || fr.Damage[0].Error == "" || fr.Repair != nil {
		t.Errorf("fsck --json of the damaged copy: exit %d, %v\n%s", code, err, out)
	}
	if after := hashStore(t, dir); !sameHashes(before, after) {
		t.Fatalf("status, dump or fsck without --repair changed the damaged copy")
	}

	out, errOut, code = run(t, "fsck", "--dir", dir, "--repair")
	if code != 0 || !strings.Contains(out, "corrupted/"+seg) || !strings.Contains(out, "rewrote "+seg) {
		t.Errorf("fsck --repair: exit %d\n%s%s", code, out, errOut)
	}
	q, err := os.ReadFile(filepath.Join(dir, "corrupted", seg))
	if err != nil || !bytes.Equal(q, b) {
		t.Errorf("corrupted/%s is not the damaged file (%v)", seg, err)
	}
	out, _, code = run(t, "fsck", "--dir", dir, "--json")
	if err := json.Unmarshal([]byte(out), &fr); err != nil || code != 0 || !fr.Clean || !fr.Checkpoint {
		t.Errorf("fsck after the repair: exit %d, %v\n%s", code, err, out)
	}
	out, _, code = run(t, "dump", "--dir", dir, "--format", "csv")
	if code != 0 {
		t.Fatalf("dump after the repair: exit %d", code)
	}
	checkDump(t, "dump after the repair", ts, want, parseCSV(t, out))
}

// fsck --repair --json names what it did: a damaged checkpoint is
// quarantined and removed.
func TestFsckRepairCheckpointJSON(t *testing.T) {
	ts := writeStore(t, t.TempDir())
	cps, err := filepath.Glob(filepath.Join(ts.dir, "state*.mm2"))
	if err != nil || len(cps) == 0 {
		t.Fatalf("no checkpoint file in the store: %v", err)
	}
	var names, quarantined []string
	for _, name := range cps {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-1] ^= 0xff
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(name))
		quarantined = append(quarantined, "corrupted/"+filepath.Base(name))
	}
	out, _, code := run(t, "fsck", "--dir", ts.dir)
	if code != 1 || !strings.Contains(out, "checkpoint damaged") {
		t.Errorf("fsck of a damaged checkpoint: exit %d\n%s", code, out)
	}
	out, _, code = run(t, "fsck", "--dir", ts.dir, "--repair", "--json")
	var fr fsckJSON
	if err := json.Unmarshal([]byte(out), &fr); err != nil || code != 0 || fr.Clean || fr.Repair == nil {
		t.Fatalf("fsck --repair --json: exit %d, %v\n%s", code, err, out)
	}
	r := fr.Repair
	if !r.Repaired || !slices.Equal(r.Quarantined, quarantined) || !slices.Equal(r.Removed, names) ||
		!r.After.Clean || r.After.Checkpoint || len(fr.Damage) != len(names) || fr.Damage[0].File != names[0] {
		t.Errorf("repair of a damaged checkpoint: %+v, damage %+v", r, fr.Damage)
	}
	// Nothing left to repair; the store still opens, from its segments.
	out, _, code = run(t, "fsck", "--dir", ts.dir, "--repair")
	if code != 0 || !strings.Contains(out, "nothing to do") || !strings.Contains(out, "checkpoint missing") {
		t.Errorf("second repair: exit %d\n%s", code, out)
	}
	if st := statusOf(t, ts.dir); st.Totals.Total == 0 {
		t.Errorf("status after the checkpoint was quarantined: nothing stored: %+v", st.Totals)
	}
}

func TestToolsUsage(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none")
	empty := t.TempDir() // a store with nothing in it: opened and closed
	m, err := mm2.Open(mm2.Options{Profile: mm2.ProfileLinux, Dir: empty})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"status", "--bogus"}, 2},
		{[]string{"status", "--dir", dir, "--view", "cpu"}, 2},
		{[]string{"status", "--dir", dir, "extra"}, 2},
		{[]string{"fsck", "--dir", dir, "--bogus"}, 2},
		{[]string{"fsck", "--dir", dir, "extra"}, 2},
		{[]string{"dump", "--dir", dir, "--format", "xml"}, 2},
		{[]string{"dump", "--dir", dir, "--stream", "can"}, 2},
		{[]string{"dump", "--dir", dir, "--stream", "radio/1"}, 2},
		{[]string{"dump", "--dir", dir, "--stream", "can/x"}, 2},
		{[]string{"status", "--dir", missing}, 1},
		{[]string{"fsck", "--dir", missing}, 1},
		{[]string{"dump", "--dir", missing}, 1},
		{[]string{"status", "--dir", dir}, 1}, // a directory that is not a store
		{[]string{"fsck", "--dir", dir}, 1},
		{[]string{"dump", "--dir", dir}, 1},
		{[]string{"dump", "--dir", empty, "--stream", "can/7"}, 1}, // no such stream
		{[]string{"status", "--dir", empty}, 0},                    // an empty store
		{[]string{"fsck", "--dir", empty}, 0},
		{[]string{"dump", "--dir", empty}, 0},
		{[]string{"status", "-h"}, 0},
	} {
		out, errOut, code := run(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, code, tc.code, out, errOut)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the tools wrote into an empty directory: %v", entries)
	}
	for _, cmd := range []string{"status", "fsck", "dump"} {
		_, errOut, _ := run(t, cmd, "--dir", dir)
		if want := dir + " is not an mm2 store"; !strings.Contains(errOut, want) {
			t.Errorf("%s on a directory that is not a store says %q, want %q", cmd, errOut, want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a tool created %s", missing)
	}
}
