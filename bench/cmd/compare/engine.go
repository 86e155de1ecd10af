package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mm2go/mm2/bench/engine"
	"github.com/mm2go/mm2/bench/report"
)

// Engine child modes: each of mm2's own measurements runs in a process of its own, so the
// device counters of /proc/self/io it reads are that measurement's alone.
const (
	childPolicyWrite = "policy-write" // write workload a's samples under -policy, close
	childPolicyIdle  = "policy-idle"  // reopen that store, leave it idle, drain it
	childNewStreams  = "newstreams"
	childLatency     = "latency"
	childScrape      = "scrape"
)

func isEngineMode(mode string) bool {
	switch mode {
	case childPolicyWrite, childPolicyIdle, childNewStreams, childLatency, childScrape:
		return true
	}
	return false
}

// runEngineChild is the body of an engine child: it prints its result as JSON, also when
// the measurement failed part-way (with Err set), and then returns the error.
func runEngineChild(mode, policy, dir string, cfg engine.Config) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var out any
	var err error
	switch mode {
	case childPolicyWrite, childPolicyIdle:
		p, ok := engine.PolicyByName(policy)
		if !ok {
			return fmt.Errorf("unknown policy %q", policy)
		}
		var res engine.PolicyResult
		if mode == childPolicyWrite {
			res, err = engine.RunPolicyWrite(dir, p, cfg)
		} else {
			res = engine.PolicyResult{Policy: p.Name, Label: p.Label, CloseDeviceBytes: -1, IdleDeviceBytes: -1}
			err = engine.RunPolicyIdle(dir, p, cfg, &res)
		}
		if err != nil {
			res.Err = err.Error()
		}
		out = res
	case childNewStreams:
		var res engine.NewStreamsResult
		if res, err = engine.RunNewStreams(dir, cfg); err != nil {
			res.Err = err.Error()
		}
		out = res
	case childLatency:
		var res engine.LatencyResult
		if res, err = engine.RunLatency(dir, cfg); err != nil {
			res.Err = err.Error()
		}
		out = res
	case childScrape:
		var res engine.ScrapeResult
		if res, err = engine.RunScrape(dir, cfg); err != nil {
			res.Err = err.Error()
		}
		out = res
	default:
		return fmt.Errorf("unknown child mode %q", mode)
	}
	if jerr := json.NewEncoder(os.Stdout).Encode(out); jerr != nil {
		return jerr
	}
	return err
}

func engineArgs(mode, policy, dir string, quick bool, phase time.Duration) []string {
	args := []string{"-child", mode, "-dir", dir}
	if policy != "" {
		args = append(args, "-policy", policy)
	}
	return append(args, commonArgs(quick, phase)...)
}

// errText is err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// runEngine takes mm2's own figures in children: each policy's write run one after the
// other (their rates are not disturbed), then every policy's idle spell at once (idle
// stores share the machine without cost, and each child counts only its own device
// writes), then the new streams, the write latency and the scrape. policyPhase caps each
// write and drain of the policy runs.
func runEngine(exe, base string, cfg engine.Config, quick bool, policyPhase, timeout time.Duration) *report.Engine {
	out := &report.Engine{Quick: quick, Config: cfg}
	out.Config.Workload.PhaseLimit = policyPhase
	policies := engine.Policies()
	out.Policies = make([]engine.PolicyResult, len(policies))
	dirs := make([]string, len(policies))
	for i, p := range policies {
		dirs[i] = filepath.Join(base, "engine-policy-"+p.Name)
		t0 := time.Now()
		res := &out.Policies[i]
		*res = engine.PolicyResult{Policy: p.Name, Label: p.Label, CloseDeviceBytes: -1, IdleDeviceBytes: -1}
		if err := spawnJSON(exe, engineArgs(childPolicyWrite, p.Name, dirs[i], quick, policyPhase), timeout, res); err != nil {
			res.Err = err.Error()
		}
		progress("mm2 policy %s: write (%.0f s): %.0f samples/s %.2f disk B/sample %.2f device B/sample %s", p.Name,
			time.Since(t0).Seconds(), res.Write.WriteRate(), res.Write.BytesPerSample(), res.Write.DeviceBytesPerWrite(), res.Err)
	}
	var wg sync.WaitGroup
	for i, p := range policies {
		if out.Policies[i].Err != "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var idle engine.PolicyResult
			err := spawnJSON(exe, engineArgs(childPolicyIdle, p.Name, dirs[i], quick, policyPhase), timeout, &idle)
			out.Policies[i].MergeIdle(idle, errText(err))
		}()
	}
	wg.Wait()
	for i, p := range out.Policies {
		os.RemoveAll(dirs[i])
		progress("mm2 policy %s: idle %.0f s: %.0f device bytes/minute; drained %d of %d %s", p.Policy,
			p.IdleSeconds, p.IdleBytesPerMinute(), p.Write.Drained, p.Write.Written, p.Err)
	}

	var ns engine.NewStreamsResult
	dir := filepath.Join(base, "engine-newstreams")
	if err := spawnJSON(exe, engineArgs(childNewStreams, "", dir, quick, 0), timeout, &ns); err != nil {
		ns.Err = err.Error()
	}
	os.RemoveAll(dir)
	out.NewStreams = &ns
	progress("mm2 new streams: %d in %.1f ms (slowest %s) %s", ns.Streams, ns.Seconds*1000, ns.Slowest, ns.Err)

	var lat engine.LatencyResult
	dir = filepath.Join(base, "engine-latency")
	if err := spawnJSON(exe, engineArgs(childLatency, "", dir, quick, 0), timeout, &lat); err != nil {
		lat.Err = err.Error()
	}
	os.RemoveAll(dir)
	out.Latency = &lat
	progress("mm2 write latency: p99 %s with the writes due meanwhile, %s from the call, %s from when due, over %d writes (sync p99 %s, scrape p99 %s, check p99 %s) %s",
		lat.WriteStall.P99, lat.Write.P99, lat.WriteDue.P99, lat.Write.Count, lat.Sync.P99, lat.Scrape.P99, lat.Check.P99, lat.Err)

	var sc engine.ScrapeResult
	dir = filepath.Join(base, "engine-scrape")
	if err := spawnJSON(exe, engineArgs(childScrape, "", dir, quick, 0), timeout, &sc); err != nil {
		sc.Err = err.Error()
	}
	os.RemoveAll(dir)
	out.Scrape = &sc
	progress("mm2 scrape: %d streams, %.0f MB on disk: gather p50 %s, stats p50 %s %s",
		sc.Streams, float64(sc.DiskBytes)/(1<<20), sc.Gather.P50, sc.Stats.P50, sc.Err)
	return out
}
