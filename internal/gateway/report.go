package gateway

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/humanize"
)

// Dropped counts records discarded without being delivered, by reason.
type Dropped struct {
	RAMFull     uint64 `json:"ram_full"`
	DiskCap     uint64 `json:"disk_cap"`
	Corrupt     uint64 `json:"corrupt"`
	CrashWindow uint64 `json:"crash_window"`
	Total       uint64 `json:"total"`
}

// Counts is the accounting of one source, or of all.
//
// Every record written is delivered, dropped (by the store, with its
// reason, or destroyed by a crash inside the sync policy's window), still
// buffered, or lost: written = delivered + dropped + (buffered −
// buffered already delivered) + lost.
type Counts struct {
	Written    uint64  `json:"written"`    // writes that returned nil
	Delivered  uint64  `json:"delivered"`  // unique (stream, sequence) at the cloud
	Duplicates uint64  `json:"duplicates"` // records that reached the cloud again
	Dropped    Dropped `json:"dropped"`
	Buffered   uint64  `json:"buffered"` // unacknowledged in the store at the end
	// BufferedDelivered: buffered records the cloud already has (their ACK
	// was lost in a crash); they will arrive again as duplicates.
	BufferedDelivered uint64 `json:"buffered_delivered"`
	Lost              uint64 `json:"lost"`    // written records nothing explains
	Refused           uint64 `json:"refused"` // writes the store refused (never written)
	// DropsAlsoDelivered: records the store counted as dropped but the
	// cloud got or the store still holds (drop counts are per stream, not
	// per record: a dropped batch may have been in flight).
	DropsAlsoDelivered uint64 `json:"drops_also_delivered"`
}

func (c *Counts) add(o Counts) {
	c.Written += o.Written
	c.Delivered += o.Delivered
	c.Duplicates += o.Duplicates
	c.Dropped.RAMFull += o.Dropped.RAMFull
	c.Dropped.DiskCap += o.Dropped.DiskCap
	c.Dropped.Corrupt += o.Dropped.Corrupt
	c.Dropped.CrashWindow += o.Dropped.CrashWindow
	c.Dropped.Total += o.Dropped.Total
	c.Buffered += o.Buffered
	c.BufferedDelivered += o.BufferedDelivered
	c.Lost += o.Lost
	c.Refused += o.Refused
	c.DropsAlsoDelivered += o.DropsAlsoDelivered
}

// CrashInfo is what one process crash did: the manager was abandoned
// without Close or PowerDown and a new process reopened the same files in
// the same boot. It may destroy nothing, and numbering goes on without a
// gap.
type CrashInfo struct {
	At           string `json:"at"`
	Held         uint64 `json:"held"`          // unacknowledged records in the store at the crash
	Recovered    uint64 `json:"recovered"`     // records the store held after recovery
	Destroyed    uint64 `json:"destroyed"`     // held, not recovered, never delivered (counted as lost)
	Streams      int    `json:"streams"`       // streams that lost records
	NumberingGap uint64 `json:"numbering_gap"` // numbers skipped across the restart, summed over the streams
}

// PowerLossInfo is what one power cut without warning (no PowerDown) did.
type PowerLossInfo struct {
	At                string `json:"at"`
	Held              uint64 `json:"held"`      // unacknowledged records in the store at the power loss
	Recovered         uint64 `json:"recovered"` // records the store held after recovery
	Destroyed         uint64 `json:"destroyed"` // held, not recovered, never delivered: inside the policy's window
	Streams           int    `json:"streams"`   // streams that lost records
	OutsideWindow     uint64 `json:"outside_window"`
	UnsyncedBytesLost int64  `json:"unsynced_bytes_lost"` // file bytes no sync covered, lost at the power loss
	NumberingGap      uint64 `json:"numbering_gap"`       // numbers skipped across the restart, summed over the streams
	// StreamGapMax is the largest jump of one stream: at most what the
	// journal's lost part could have numbered (docs/durability.md).
	StreamGapMax uint64 `json:"numbering_gap_stream_max"`
}

// PowerCutInfo is what one power cut did.
type PowerCutInfo struct {
	At                string        `json:"at"`
	PowerDown         time.Duration `json:"-"`
	PowerDownMs       float64       `json:"power_down_ms"`
	Held              uint64        `json:"held"`
	Recovered         uint64        `json:"recovered"`
	NotRecovered      uint64        `json:"not_recovered"`
	UnsyncedBytesLost int64         `json:"unsynced_bytes_lost"`
	NumberingGap      uint64        `json:"numbering_gap"`
}

// UplinkTotals sums the uplink's counters over every boot.
type UplinkTotals struct {
	Batches   uint64 `json:"batches"`
	Bytes     uint64 `json:"bytes"`
	Acks      uint64 `json:"acks"`
	Nacks     uint64 `json:"nacks"`
	Timeouts  uint64 `json:"timeouts"`
	Conflicts uint64 `json:"conflicts"`
}

// Report is the outcome of a run.
type Report struct {
	Counts
	Sources map[string]Counts `json:"sources"`

	Simulated   time.Duration `json:"-"`
	Elapsed     time.Duration `json:"-"`
	SimulatedS  float64       `json:"simulated_s"`
	ElapsedS    float64       `json:"elapsed_s"`
	Interrupted bool          `json:"interrupted"`
	Sync        string        `json:"sync"`
	Streams     int           `json:"streams"`
	CANSignals  int           `json:"can_signals"`
	Phases      struct {
		OutageSpill bool `json:"outage_spill"` // pool ≥ 80 % and data on disk during an outage
		DiskCap     bool `json:"disk_cap"`     // records dropped at the disk cap
		PowerCut    bool `json:"power_cut"`
		PowerLoss   bool `json:"power_loss"`
		Crash       bool `json:"crash"`
	} `json:"phases"`
	PeakPoolPct   float64         `json:"peak_pool_pct"`
	PeakDiskBytes int64           `json:"peak_disk_bytes"`
	Crashes       []CrashInfo     `json:"crashes"`
	PowerCuts     []PowerCutInfo  `json:"power_cuts"`
	PowerLosses   []PowerLossInfo `json:"power_losses"`
	Uplink        UplinkTotals    `json:"uplink"`
	UplinkErrors  int             `json:"uplink_restarts"`
	Cloud         CheckerStats    `json:"cloud"`
	BrokerDropped uint64          `json:"broker_dropped"`
	// Invented: records the cloud got that the vehicle never wrote.
	Invented            uint64            `json:"invented"`
	AckedNotReceived    uint64            `json:"acked_not_received"`
	Stalls              int               `json:"stalls"`
	RefusedWhy          map[string]uint64 `json:"refused_why"`
	PowerDownOnSignal   time.Duration     `json:"-"`
	PowerDownOnSignalMs float64           `json:"power_down_on_signal_ms"`
	Events              []string          `json:"events"`
	Errors              []string          `json:"errors"`
	OK                  bool              `json:"ok"`
}

// fillEmpty makes every list and map of r empty rather than nil, so that
// the JSON form has [] and {} where nothing happened, never null.
func (r *Report) fillEmpty() {
	if r.Sources == nil {
		r.Sources = map[string]Counts{}
	}
	if r.RefusedWhy == nil {
		r.RefusedWhy = map[string]uint64{}
	}
	if r.Crashes == nil {
		r.Crashes = []CrashInfo{}
	}
	if r.PowerCuts == nil {
		r.PowerCuts = []PowerCutInfo{}
	}
	if r.PowerLosses == nil {
		r.PowerLosses = []PowerLossInfo{}
	}
	if r.Events == nil {
		r.Events = []string{}
	}
	if r.Errors == nil {
		r.Errors = []string{}
	}
}

// account closes the books: every record written, per stream, is
// delivered, buffered, destroyed by a power loss inside the window, dropped by
// the store, or lost.
func (s *Sim) account(buffered []SeqSet) {
	r := &s.report
	r.Sources = map[string]Counts{}
	r.Sync = s.cfg.Sync.String()
	r.Streams, r.CANSignals = len(s.sig), s.cfg.CANSignals
	known := map[mm2.StreamID]bool{}
	for i, sg := range s.sig {
		known[sg.ID] = true
		l := &s.led[i]
		got := s.cloud.Received(sg.ID)
		W, D, B := &l.written, &got.Seqs, &buffered[i]
		var c Counts
		c.Written = W.Len()
		wd := W.Intersect(D)
		c.Delivered = wd.Len()
		inv := D.Minus(W)
		r.Invented += inv.Len()
		c.Duplicates = got.Duplicates
		c.Buffered = B.Len()
		bd := B.Intersect(D)
		c.BufferedDelivered = bd.Len()
		rest := W.Minus(D)
		rest = rest.Minus(B)
		in := l.cwIn.Intersect(&rest)
		rest = rest.Minus(&in)
		out := l.cwOut.Intersect(&rest)
		rest = rest.Minus(&out)
		c.Dropped = Dropped{RAMFull: l.drops.RAMFull, DiskCap: l.drops.DiskCap, Corrupt: l.drops.Corrupt,
			CrashWindow: in.Len()}
		c.Dropped.Total = c.Dropped.RAMFull + c.Dropped.DiskCap + c.Dropped.Corrupt + c.Dropped.CrashWindow
		storeDrops := l.drops.Total()
		if left := rest.Len(); left > storeDrops {
			c.Lost = left - storeDrops
		} else {
			c.DropsAlsoDelivered = storeDrops - left
		}
		c.Lost += out.Len()
		c.Refused = l.refused
		src := sg.ID.Source.String()
		agg := r.Sources[src]
		agg.add(c)
		r.Sources[src] = agg
		r.add(c)
	}
	for _, id := range s.cloud.Streams() {
		if !known[id] {
			got := s.cloud.Received(id)
			r.Invented += got.Seqs.Len()
		}
	}
	r.Cloud = s.cloud.Stats()
	if s.broker != nil {
		r.BrokerDropped = s.broker.Dropped()
	}
	r.Phases.DiskCap = r.Dropped.DiskCap > 0
	r.RefusedWhy = s.v.RefusedWhy
	if r.Lost > 0 {
		s.fail("%s lost: written, never delivered, not in the store, and not explained by a drop or by a crash inside the sync window", humanize.Count(r.Lost, "record"))
	}
	if r.Invented > 0 {
		s.fail("the cloud received %s the vehicle never wrote", humanize.Count(r.Invented, "record"))
	}
	if r.Cloud.BadPayloads > 0 || r.Cloud.BadValues > 0 {
		s.fail("the cloud found %d bad payloads and %d records with a wrong value or time (first: %s)",
			r.Cloud.BadPayloads, r.Cloud.BadValues, r.Cloud.FirstError)
	}
	if r.Cloud.Reordered > 0 {
		s.fail("%s reached the cloud out of order (first arrival below a sequence number already delivered)", humanize.Count(r.Cloud.Reordered, "record"))
	}
	r.Errors = s.errs
	r.OK = len(s.errs) == 0
}

// sourceOrder is the order of the table's rows.
var sourceOrder = []string{"gateway", "hosted", "ble", "can"}

// WriteTable prints the accounting table and the run's facts.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "source\twritten\tdelivered\tduplicates\tram-full\tdisk-cap\tcorrupt\tcrash-window\tbuffered\tlost\t")
	row := func(name string, c Counts) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", name, c.Written, c.Delivered, c.Duplicates,
			c.Dropped.RAMFull, c.Dropped.DiskCap, c.Dropped.Corrupt, c.Dropped.CrashWindow, c.Buffered, c.Lost)
	}
	for _, name := range sourceOrder {
		if c, ok := r.Sources[name]; ok {
			row(name, c)
		}
	}
	for name, c := range r.Sources {
		if !strings.Contains(strings.Join(sourceOrder, " "), name) {
			row(name, c)
		}
	}
	row("total", r.Counts)
	tw.Flush()
	fmt.Fprintf(w, "(dropped: ram-full, disk-cap, corrupt counted by the store; crash-window: destroyed by a power loss inside the %s window)\n", r.Sync)
	if r.BufferedDelivered > 0 {
		fmt.Fprintf(w, "%s of the buffered ones already reached the cloud (their ACK was lost in a crash) and will arrive again\n", humanize.Count(r.BufferedDelivered, "record"))
	}
	if r.Refused > 0 {
		fmt.Fprintf(w, "%s refused by the store (not written): %v\n", humanize.Count(r.Refused, "write"), r.RefusedWhy)
	}
	if r.DropsAlsoDelivered > 0 {
		fmt.Fprintf(w, "%s counted as dropped delivered or still buffered\n", humanize.Count(r.DropsAlsoDelivered, "record"))
	}
	fmt.Fprintf(w, "\nsimulated %s in %s (%.0fx real time), %d streams (%d CAN signals), sync %s\n",
		fmtDur(r.Simulated), r.Elapsed.Round(100*time.Millisecond), r.Simulated.Seconds()/max(r.Elapsed.Seconds(), 1e-9),
		r.Streams, r.CANSignals, r.Sync)
	fmt.Fprintf(w, "phases: outage spilled to disk %s, disk cap %s, power cut %s, power loss %s, process crash %s\n",
		yes(r.Phases.OutageSpill), yes(r.Phases.DiskCap), yes(r.Phases.PowerCut), yes(r.Phases.PowerLoss), yes(r.Phases.Crash))
	fmt.Fprintf(w, "store: peak pool %.0f %%, peak disk %s\n", r.PeakPoolPct, humanize.Bytes(r.PeakDiskBytes))
	fmt.Fprintf(w, "uplink: %d batches (%s), %d ACKed, %d NACKed (%d timeouts)\n",
		r.Uplink.Batches, humanize.Bytes(int64(r.Uplink.Bytes)), r.Uplink.Acks, r.Uplink.Nacks, r.Uplink.Timeouts)
	fmt.Fprintf(w, "cloud: %d payloads decoded, %d records checked against the signal model, %d bad payloads, %d bad records, %d out of order\n",
		r.Cloud.Messages, r.Cloud.Records, r.Cloud.BadPayloads, r.Cloud.BadValues, r.Cloud.Reordered)
	for _, p := range r.PowerCuts {
		fmt.Fprintf(w, "power cut at %s: PowerDown in %v, %s held, %d recovered, %d not recovered; numbering jumped by %d\n",
			p.At, p.PowerDown.Round(time.Millisecond), humanize.Count(p.Held, "record"), p.Recovered, p.NotRecovered, p.NumberingGap)
	}
	for _, p := range r.PowerLosses {
		window := "all newer than what the policy had made durable"
		if p.OutsideWindow > 0 {
			window = fmt.Sprintf("and %d the policy had made durable: outside the window, counted as lost", p.OutsideWindow)
		}
		fmt.Fprintf(w, "power loss at %s: %s held, %d recovered (a record whose ACK was lost comes back), %d destroyed in %s (%s); %s of unsynced file data lost; numbering jumped by %d, at most %d in a stream\n",
			p.At, humanize.Count(p.Held, "record"), p.Recovered, p.Destroyed, humanize.Count(p.Streams, "stream"), window, humanize.Bytes(p.UnsyncedBytesLost), p.NumberingGap, p.StreamGapMax)
	}
	if len(r.PowerLosses) > 0 {
		fmt.Fprintln(w, "  a power loss abandons the manager (nothing closed or synced) and cuts every store file back to its last fsync")
		fmt.Fprintln(w, "  and every mapped journal file back to its last msync; kept are directory changes no fsync covered")
		fmt.Fprintln(w, "  (a real power cut may undo them) and whole synced files")
	}
	for _, c := range r.Crashes {
		fmt.Fprintf(w, "process crash at %s: %s held, %d recovered, %d destroyed in %s; numbering jumped by %d\n",
			c.At, humanize.Count(c.Held, "record"), c.Recovered, c.Destroyed, humanize.Count(c.Streams, "stream"), c.NumberingGap)
	}
	if len(r.Crashes) > 0 {
		fmt.Fprintln(w, "  a process crash abandons the manager (nothing closed or synced) and a new process reopens the same files")
		fmt.Fprintln(w, "  in the same boot: the page cache keeps every write, so nothing may be destroyed and no number skipped")
	}
	if r.Interrupted {
		fmt.Fprintf(w, "interrupted by a signal: powered down in %v, %s left in the store for the next start\n",
			r.PowerDownOnSignal.Round(time.Millisecond), humanize.Count(r.Buffered, "record"))
	}
	for _, e := range r.Errors {
		fmt.Fprintln(w, "ERROR:", e)
	}
	verdict := "OK: every record is accounted for (lost = 0)"
	if !r.OK {
		verdict = fmt.Sprintf("FAIL: lost = %d", r.Lost)
	}
	fmt.Fprintln(w, verdict)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
