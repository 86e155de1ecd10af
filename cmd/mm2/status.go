package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/humanize"
)

// defaultStoreDir is where the tools look for a store without --dir (SPEC R-4).
const defaultStoreDir = "mm2-data"

// openStore opens the store in dir for inspection: read-only (nothing on
// disk changes), the linux profile with poolBytes (0 = the profile's), and
// no disk cap below the largest possible, so that recovery in memory drops
// nothing a bigger cap kept.
func openStore(dir string, poolBytes int) (*mm2.Manager, error) {
	if err := checkStoreDir(dir); err != nil {
		return nil, err
	}
	p := mm2.ProfileLinux
	if poolBytes > 0 {
		p.PoolBytes = poolBytes
	}
	return mm2.OpenReadOnly(mm2.Options{Profile: p, Dir: dir, DiskCapBytes: mm2.MaxDiskCapBytes})
}

// utcString formats UTC milliseconds as RFC 3339 with milliseconds.
func utcString(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// dropsJSON is Drops with documented field names.
type dropsJSON struct {
	RAMFull uint64 `json:"ram_full"`
	DiskCap uint64 `json:"disk_cap"`
	Corrupt uint64 `json:"corrupt"`
	Total   uint64 `json:"total"`
}

func dropsOf(d mm2.Drops) dropsJSON {
	return dropsJSON{RAMFull: d.RAMFull, DiskCap: d.DiskCap, Corrupt: d.Corrupt, Total: d.Total()}
}

func (d *dropsJSON) add(o dropsJSON) {
	d.RAMFull += o.RAMFull
	d.DiskCap += o.DiskCap
	d.Corrupt += o.Corrupt
	d.Total += o.Total
}

func (d dropsJSON) String() string {
	if d.Total == 0 {
		return "0"
	}
	var parts []string
	for _, p := range []struct {
		name string
		n    uint64
	}{{"ram-full", d.RAMFull}, {"disk-cap", d.DiskCap}, {"corrupt", d.Corrupt}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.name, p.n))
		}
	}
	return strings.Join(parts, ", ")
}

// counted is what a stream, a source and the whole store report alike.
type counted struct {
	New         int       `json:"new"`
	Pending     int       `json:"pending"`
	Total       int       `json:"total"`
	SectorsRAM  int       `json:"sectors_ram"`
	SectorsDisk int       `json:"sectors_disk"`
	OldestMs    *int64    `json:"oldest_unacked_ms"` // null when nothing is unacknowledged
	Oldest      string    `json:"oldest_unacked"`    // RFC 3339, UTC, ms; "" when nothing is
	Drops       dropsJSON `json:"drops"`
}

func (c *counted) add(o counted) {
	c.New += o.New
	c.Pending += o.Pending
	c.Total += o.Total
	c.SectorsRAM += o.SectorsRAM
	c.SectorsDisk += o.SectorsDisk
	c.Drops.add(o.Drops)
	if o.OldestMs != nil && (c.OldestMs == nil || *o.OldestMs < *c.OldestMs) {
		v := *o.OldestMs
		c.OldestMs, c.Oldest = &v, o.Oldest
	}
}

type streamJSON struct {
	Stream   string `json:"stream"` // "source/sensor", e.g. "can/7"
	Source   uint8  `json:"source"`
	Sensor   uint32 `json:"sensor"`
	Kind     string `json:"kind"`      // "tsd" or "evt"
	PeriodMs int64  `json:"period_ms"` // TSD only; 0 for EVT
	Acked    uint64 `json:"acked_seq"`
	Written  uint64 `json:"written_seq"`
	counted
}

type sourceJSON struct {
	Source  uint8        `json:"source"`
	Name    string       `json:"name"`
	Streams []streamJSON `json:"streams"`
	counted
}

type poolJSON struct {
	SectorsTotal       int     `json:"sectors_total"`
	SectorsUsed        int     `json:"sectors_used"`
	SectorsFree        int     `json:"sectors_free"`
	SectorSize         int     `json:"sector_size"`
	UsePct             float64 `json:"use_pct"`
	Pressure           string  `json:"pressure"`
	SpaceEfficiencyPct float64 `json:"space_efficiency_pct"`
	Footprint          int     `json:"footprint_bytes"`
}

type diskJSON struct {
	Bytes            int64  `json:"bytes"`
	Files            int    `json:"files"`
	Records          uint64 `json:"records"`
	RecordsRecovered uint64 `json:"records_recovered"`
	RecordsSkipped   uint64 `json:"records_skipped"`
	FramesSkipped    uint64 `json:"frames_skipped"`
	Error            string `json:"error,omitempty"`
}

type damageJSON struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Error  string `json:"error"`
}

type totalsJSON struct {
	Streams       int `json:"streams"`
	ActiveStreams int `json:"active_streams"`
	counted
}

type statusJSON struct {
	Dir     string       `json:"dir"`
	Profile string       `json:"profile"`
	Pool    poolJSON     `json:"pool"`
	Disk    diskJSON     `json:"disk"`
	Totals  totalsJSON   `json:"totals"`
	Sources []sourceJSON `json:"sources"`
	Damage  []damageJSON `json:"damage"`
}

const statusFields = `JSON fields (--json prints one object, whatever --view says):
  dir, profile
  pool:    sectors_total, sectors_used, sectors_free, sector_size, use_pct,
           pressure (normal|warning|critical), space_efficiency_pct, footprint_bytes
  disk:    bytes, files (segment files), records (unacknowledged, on disk),
           records_recovered, records_skipped, frames_skipped, error (omitted when healthy)
  totals:  streams, active_streams and the counts below, summed
  sources: [{source, name, counts..., streams: [{stream, source, sensor, kind,
           period_ms, acked_seq, written_seq, counts...}]}]
  counts:  new, pending, total, sectors_ram, sectors_disk,
           oldest_unacked_ms (null when nothing is unacknowledged),
           oldest_unacked (RFC 3339, UTC, milliseconds; "" when none),
           drops: {ram_full, disk_cap, corrupt, total}
  damage:  [{file, offset, error}] found while reading the store (mm2 fsck for the whole check)
A store read from disk has no pending records: what was pending when it
stopped is unread again (at-least-once delivery).`

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", stderr, "usage: mm2 status [-d DIR] [-j] [--view all|ram|disk|use] [--pool-bytes N]\nShows what a store holds without changing it.",
		"exit status: 0 done, 1 not a store or the store cannot be read, 2 bad usage", statusFields)
	dir := fs.String("dir", defaultStoreDir, "store directory")
	asJSON := fs.Bool("json", false, "print one JSON object")
	view := fs.String("view", "all", "all, ram (the pool), disk (the disk tier) or use (one line per source)")
	poolBytes := fs.Int("pool-bytes", 0, "RAM pool of the reading manager (0 = the linux profile's); at least the writer's, or RAM records do not fit")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mm2 status: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	switch *view {
	case "all", "ram", "disk", "use":
	default:
		fmt.Fprintf(stderr, "mm2 status: unknown view %q (all, ram, disk or use)\n", *view)
		return exitUsage
	}
	if *poolBytes < 0 {
		fmt.Fprintln(stderr, "mm2 status: --pool-bytes must be >= 0")
		return exitUsage
	}
	m, err := openStore(*dir, *poolBytes)
	if err != nil {
		fmt.Fprintf(stderr, "mm2 status: %v\n", storeErr(*dir, err))
		return exitProblem
	}
	defer m.Close()
	st, err := collectStatus(m, *dir)
	if err != nil {
		fmt.Fprintf(stderr, "mm2 status: %v\n", err)
		return exitProblem
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			fmt.Fprintf(stderr, "mm2 status: %v\n", err)
			return exitProblem
		}
		return exitOK
	}
	printStatus(stdout, st, *view)
	return exitOK
}

// collectStatus walks every stream of m.
func collectStatus(m *mm2.Manager, dir string) (statusJSON, error) {
	st := m.Stats()
	out := statusJSON{
		Dir: dir, Profile: st.Profile,
		Pool: poolJSON{
			SectorsTotal: st.SectorsTotal, SectorsUsed: st.SectorsUsed, SectorsFree: st.SectorsFree,
			SectorSize: st.SectorSize, UsePct: round1(st.UtilizationPct), Pressure: st.Pressure.String(),
			SpaceEfficiencyPct: round1(st.SpaceEfficiencyPct), Footprint: st.Footprint,
		},
		Disk: diskJSON{
			Bytes: st.DiskBytes, Files: st.DiskFiles, Records: st.DiskRecords,
			RecordsRecovered: st.RecordsRecovered, RecordsSkipped: st.RecordsSkipped,
			FramesSkipped: st.FramesSkipped, Error: st.DiskError,
		},
		Sources: []sourceJSON{},
		Damage:  []damageJSON{},
	}
	for _, err := range m.Damage() {
		out.Damage = append(out.Damage, damageOf(err))
	}
	for _, id := range m.Streams() { // in (source, sensor) order
		s, err := m.Stream(id)
		if err != nil {
			return out, fmt.Errorf("stream %v: %w", id, err)
		}
		ss := s.Stats()
		sj := streamJSON{
			Stream: id.String(), Source: uint8(id.Source), Sensor: id.Sensor,
			Kind: ss.Kind.String(), PeriodMs: ss.Period, Acked: ss.Acked, Written: ss.Written,
			counted: counted{
				New: ss.Counts.New, Pending: ss.Counts.Pending, Total: ss.Counts.Total,
				SectorsRAM: ss.SectorsRAM, SectorsDisk: ss.SectorsDisk, Drops: dropsOf(ss.Drops),
			},
		}
		if ss.HasUnacked {
			v := ss.OldestUnackedMs
			sj.OldestMs, sj.Oldest = &v, utcString(v)
		}
		n := len(out.Sources)
		if n == 0 || out.Sources[n-1].Source != uint8(id.Source) {
			out.Sources = append(out.Sources, sourceJSON{Source: uint8(id.Source), Name: id.Source.String()})
			n++
		}
		src := &out.Sources[n-1]
		src.Streams = append(src.Streams, sj)
		src.add(sj.counted)
		out.Totals.add(sj.counted)
		out.Totals.Streams++
		if sj.Total > 0 {
			out.Totals.ActiveStreams++
		}
	}
	return out, nil
}

func damageOf(err error) damageJSON {
	var ce *mm2.CorruptionError
	if errors.As(err, &ce) {
		return damageJSON{File: ce.File, Offset: ce.Offset, Error: errText(ce.Err)}
	}
	return damageJSON{Error: err.Error()}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printStatus prints the text views.
func printStatus(w io.Writer, st statusJSON, view string) {
	p, d, t := st.Pool, st.Disk, st.Totals
	poolLine := fmt.Sprintf("pool: %d of %d sectors used (%.1f%%, %s), %d free, %d B sectors, space efficiency %.1f%%",
		p.SectorsUsed, p.SectorsTotal, p.UsePct, p.Pressure, p.SectorsFree, p.SectorSize, p.SpaceEfficiencyPct)
	diskLine := fmt.Sprintf("disk: %s (%s) in %s, %s on disk; recovered %s, skipped %s (%s)",
		humanize.Count(d.Bytes, "byte"), humanize.Bytes(d.Bytes), humanize.Count(d.Files, "segment file"), humanize.Count(d.Records, "record"),
		humanize.Count(d.RecordsRecovered, "record"), humanize.Count(d.RecordsSkipped, "record"), humanize.Count(d.FramesSkipped, "frame"))
	switch view {
	case "use":
		fmt.Fprintf(w, "pool use %.1f%% (%s), disk %s in %s\n", p.UsePct, p.Pressure, humanize.Bytes(d.Bytes), humanize.Count(d.Files, "file"))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SOURCE\tSTREAMS\tNEW\tPENDING\tRAM\tDISK\tOLDEST UNACKED\tDROPS")
		for _, s := range st.Sources {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", s.Name, len(s.Streams), s.New, s.Pending,
				s.SectorsRAM, s.SectorsDisk, orDash(s.Oldest), s.Drops)
		}
		fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", t.Streams, t.New, t.Pending, t.SectorsRAM, t.SectorsDisk, orDash(t.Oldest), t.Drops)
		tw.Flush()
		printDamage(w, st.Damage)
		return
	case "ram":
		fmt.Fprintln(w, poolLine)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STREAM\tKIND\tRAM SECTORS\tNEW\tPENDING")
		for _, s := range st.Sources {
			for _, x := range s.Streams {
				if x.SectorsRAM > 0 {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", x.Stream, x.Kind, x.SectorsRAM, x.New, x.Pending)
				}
			}
		}
		fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\n", t.SectorsRAM, t.New, t.Pending)
		tw.Flush()
		return
	case "disk":
		fmt.Fprintln(w, diskLine)
		if d.Error != "" {
			fmt.Fprintf(w, "disk error: %s\n", d.Error)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STREAM\tKIND\tDISK SECTORS\tTOTAL\tDISK-CAP DROPS\tCORRUPT DROPS")
		for _, s := range st.Sources {
			for _, x := range s.Streams {
				if x.SectorsDisk > 0 || x.Drops.DiskCap+x.Drops.Corrupt > 0 {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", x.Stream, x.Kind, x.SectorsDisk, x.Total, x.Drops.DiskCap, x.Drops.Corrupt)
				}
			}
		}
		fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t%d\n", t.SectorsDisk, t.Total, t.Drops.DiskCap, t.Drops.Corrupt)
		tw.Flush()
		printDamage(w, st.Damage)
		return
	}
	fmt.Fprintf(w, "store in %s (profile %s)\n", st.Dir, st.Profile)
	fmt.Fprintln(w, poolLine)
	fmt.Fprintln(w, diskLine)
	if d.Error != "" {
		fmt.Fprintf(w, "disk error: %s\n", d.Error)
	}
	fmt.Fprintf(w, "streams: %d (%d holding data), new %d, pending %d, drops %s\n", t.Streams, t.ActiveStreams, t.New, t.Pending, t.Drops)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tKIND\tPERIOD\tNEW\tPENDING\tRAM\tDISK\tOLDEST UNACKED (UTC)\tDROPS")
	for _, s := range st.Sources {
		fmt.Fprintf(tw, "%s\t\t\t%d\t%d\t%d\t%d\t%s\t%s\n", s.Name, s.New, s.Pending, s.SectorsRAM, s.SectorsDisk, orDash(s.Oldest), s.Drops)
		for _, x := range s.Streams {
			period := "-"
			if x.PeriodMs > 0 {
				period = fmt.Sprintf("%dms", x.PeriodMs)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", x.Stream, x.Kind, period, x.New, x.Pending,
				x.SectorsRAM, x.SectorsDisk, orDash(x.Oldest), x.Drops)
		}
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t%d\t%d\t%d\t%s\t%s\n", t.New, t.Pending, t.SectorsRAM, t.SectorsDisk, orDash(t.Oldest), t.Drops)
	tw.Flush()
	printDamage(w, st.Damage)
}

func printDamage(w io.Writer, damage []damageJSON) {
	if len(damage) == 0 {
		return
	}
	fmt.Fprintf(w, "damage found while reading (%s; run mm2 fsck):\n", humanize.Count(len(damage), "place"))
	for _, d := range damage {
		fmt.Fprintf(w, "  %s offset %d: %s\n", orDash(d.File), d.Offset, d.Error)
	}
}
