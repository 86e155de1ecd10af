package report

import (
	"fmt"
	"strings"

	"github.com/mm2go/mm2/bench/workload"
)

func findResult(r Report, system, durability, name string) (workload.Result, bool) {
	for _, res := range r.Results {
		if res.System == system && res.Durability == durability && res.Workload == name && res.Err == "" {
			return res, true
		}
	}
	return workload.Result{}, false
}

func ratio(peer, ref float64) string {
	if peer <= 0 || ref <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", peer/ref)
}

// writeRatios writes the peer/mm2 tables and the plain list of where mm2 loses.
func writeRatios(b *strings.Builder, r Report) {
	fmt.Fprintf(b, "## Ratios peer / %s\n\n", Reference)
	var missing string
	for _, s := range r.Systems {
		if s.Name == Reference && s.Unavailable != "" {
			missing = s.Unavailable
		}
	}
	if missing != "" {
		fmt.Fprintf(b, "%s did not run (%s), so there are no ratios yet.\n\n", Reference, missing)
		return
	}
	ranRef := false
	for _, res := range r.Results {
		ranRef = ranRef || (res.System == Reference && res.Err == "")
	}
	if !ranRef {
		fmt.Fprintf(b, "%s was not among the systems run (or failed), so there are no ratios.\n\n", Reference)
		return
	}
	b.WriteString("For samples/s a ratio below 1 means mm2 is faster; for bytes per sample and peak RSS a ratio above 1 means mm2 is smaller.\n\n")
	b.WriteString("| workload | durability | system | write samples/s | drain samples/s | disk B/sample | peak RSS |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|\n")
	var losses []string
	for _, name := range workload.Names() {
		for _, d := range []string{workload.Synced.String(), workload.NotSynced.String()} {
			ref, ok := findResult(r, Reference, d, name)
			if !ok {
				continue
			}
			for _, s := range r.Systems {
				if s.Name == Reference {
					continue
				}
				p, ok := findResult(r, s.Name, d, name)
				if !ok {
					continue
				}
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", name, d, s.Name,
					ratio(p.WriteRate(), ref.WriteRate()), ratio(p.DrainRate(), ref.DrainRate()),
					ratio(p.BytesPerSample(), ref.BytesPerSample()), ratio(float64(p.PeakRSS), float64(ref.PeakRSS)))
				where := fmt.Sprintf("workload %s, %s, against %s", name, d, s.Name)
				if p.WriteRate() > ref.WriteRate() {
					losses = append(losses, fmt.Sprintf("%s: writes %s samples/s, mm2 %s", where, count(int64(p.WriteRate())), count(int64(ref.WriteRate()))))
				}
				if p.DrainRate() > ref.DrainRate() {
					losses = append(losses, fmt.Sprintf("%s: drains %s samples/s, mm2 %s", where, count(int64(p.DrainRate())), count(int64(ref.DrainRate()))))
				}
				if pb, rb := p.BytesPerSample(), ref.BytesPerSample(); pb > 0 && pb < rb {
					losses = append(losses, fmt.Sprintf("%s: %.2f disk bytes per sample, mm2 %.2f", where, pb, rb))
				}
			}
		}
	}
	b.WriteString("\n")
	writeGoals(b, r)
	writeShareOfLimits(b, r)
	b.WriteString("### Where mm2 loses\n\n")
	if len(losses) == 0 {
		b.WriteString("Nowhere in these tables.\n\n")
		return
	}
	for _, l := range losses {
		fmt.Fprintf(b, "- %s\n", l)
	}
	b.WriteString("\n")
}

// Goals against the best peer of each column: synced rates at least 1.2× its, not synced
// rates at least 3× its.
const (
	goalSyncedRatio    = 1.2
	goalNotSyncedRatio = 3.0
)

// goalWorkloads are the workloads the rate goals are stated on.
var goalWorkloads = []string{workload.Bulk, workload.Outage, workload.Mixed}

// writeGoals states workloads a, c and d against the best peer of each column, then mm2's
// own goals (bytes per sample per policy, kill -9, idle store, new streams, latency, scrape).
func writeGoals(b *strings.Builder, r Report) {
	b.WriteString("### Against the goals\n\n")
	fmt.Fprintf(b, "Rates: synced at least %.1f× the best peer of the column, not synced at least %.0f×. Disk: at most %.1f bytes per TSD sample, "+
		"under every policy.\n\n", goalSyncedRatio, goalNotSyncedRatio, goalDiskBytesPerSample)
	b.WriteString("| figure | goal | mm2 | best peer | mm2 / best peer | met |\n|---|---|---:|---|---:|---|\n")
	rows := rateGoals(r)
	rows = append(rows, engineGoals(r)...)
	for _, g := range rows {
		peer, ratio := g.peer, g.ratio
		if peer == "" {
			peer, ratio = "–", "–"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", cell(g.figure), g.want, g.got, peer, ratio, yesNo(g.met))
	}
	b.WriteString("\n")
}

func rateGoals(r Report) []goal {
	var out []goal
	for _, name := range goalWorkloads {
		for _, d := range []string{workload.Synced.String(), workload.NotSynced.String()} {
			ref, ok := findResult(r, Reference, d, name)
			if !ok {
				continue
			}
			want := goalNotSyncedRatio
			if d == workload.Synced.String() {
				want = goalSyncedRatio
			}
			type fig struct {
				name   string
				get    func(workload.Result) float64
				higher bool
			}
			for _, f := range []fig{
				{"write samples/s", workload.Result.WriteRate, true},
				{"drain samples/s", workload.Result.DrainRate, true},
				{"disk B/sample", workload.Result.BytesPerSample, false},
			} {
				bestName, best := "", 0.0
				for _, s := range r.Systems {
					p, ok := findResult(r, s.Name, d, name)
					if !ok || s.Name == Reference {
						continue
					}
					v := f.get(p)
					if v > 0 && (bestName == "" || (f.higher && v > best) || (!f.higher && v < best)) {
						bestName, best = s.Name, v
					}
				}
				mine := f.get(ref)
				g := goal{figure: fmt.Sprintf("workload %s, %s, %s", name, d, f.name), got: fmtFig(mine, f.higher)}
				if bestName != "" {
					g.peer = fmt.Sprintf("%s (%s)", bestName, fmtFig(best, f.higher))
					g.ratio = fmt.Sprintf("%.2f×", mine/best)
				}
				if f.higher {
					g.want = fmt.Sprintf("≥ %.1f× best peer", want)
					g.met = bestName != "" && mine >= want*best
				} else {
					g.want = fmt.Sprintf("≤ %.1f", goalDiskBytesPerSample)
					g.met = mine > 0 && mine <= goalDiskBytesPerSample
				}
				out = append(out, g)
			}
		}
	}
	return out
}

func fmtFig(v float64, rate bool) string {
	if rate {
		return count(int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// writeShareOfLimits states mm2's workload a write rate as a fraction of the machine's own
// limits: the disk bytes it wrote per second against sequential file writes, and the sample
// bytes it took in per second against a memory copy.
func writeShareOfLimits(b *strings.Builder, r Report) {
	l := r.Limits
	b.WriteString("### mm2 against the machine's limits (workload a, write phase)\n\n")
	b.WriteString("| durability | disk bytes written/s | % of sequential write (same durability) | samples/s × 4 B | % of memory copy |\n|---|---:|---:|---:|---:|\n")
	for _, d := range []string{workload.Synced.String(), workload.NotSynced.String()} {
		ref, ok := findResult(r, Reference, d, workload.Bulk)
		if !ok || ref.WriteSeconds <= 0 {
			continue
		}
		disk := float64(ref.DiskBytes) / ref.WriteSeconds
		limit := l.DiskUnsyncedBps
		if d == workload.Synced.String() {
			limit = l.DiskSyncedBps
		}
		payload := ref.WriteRate() * 4
		fmt.Fprintf(b, "| %s | %s/s | %s | %s/s | %s |\n", d, mb(int64(disk)), pct(disk, limit), mb(int64(payload)), pct(payload, l.MemCopyBps))
	}
	b.WriteString("\n")
}

func pct(v, of float64) string {
	if of <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*v/of)
}
