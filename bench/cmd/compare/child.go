package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mm2go/mm2/bench/peers"
	"github.com/mm2go/mm2/bench/report"
	"github.com/mm2go/mm2/bench/workload"
)

// Child modes: the compare binary re-executes itself with -child so that each system runs in
// a process of its own (its peak RSS and allocations are its own) and can be killed.
const (
	childRun   = "run"
	childCrash = "crash"
)

// crashWriterLimit stops a crash child that nobody killed.
const crashWriterLimit = 2 * time.Minute

// runChild is the body of a child process.
func runChild(mode, system, durability, name, dir string, cfg workload.Config) error {
	sys, ok := peers.ByName(system)
	if !ok {
		return fmt.Errorf("unknown system %q", system)
	}
	if sys.Unavailable != nil {
		return sys.Unavailable
	}
	d, err := workload.ParseDurability(durability)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	layout := workload.PerStream
	if mode == childRun {
		layout = workload.LayoutOf(name)
	}
	s, err := sys.Open(dir, d, cfg.Streams, layout)
	if err != nil {
		return err
	}
	switch mode {
	case childCrash:
		err := workload.CrashWriter(s, cfg, os.Stdout, crashWriterLimit)
		return joinClose(err, s)
	case childRun:
		res := workload.Result{System: system, Durability: d.String()}
		if err := workload.Run(name, s, cfg, &res); err != nil {
			return joinClose(err, s)
		}
		if err := s.Close(); err != nil {
			return err
		}
		res.PeakRSS = workload.PeakRSS()
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

func joinClose(err error, s workload.Store) error {
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// childArgs builds the command line of a child.
func childArgs(mode, system string, d workload.Durability, name, dir string, quick bool, phase time.Duration) []string {
	args := []string{"-child", mode, "-system", system, "-durability", d.String(), "-workload", name, "-dir", dir}
	return append(args, commonArgs(quick, phase)...)
}

func commonArgs(quick bool, phase time.Duration) []string {
	var args []string
	if phase > 0 {
		args = append(args, "-phase-limit", phase.String())
	}
	if quick {
		args = append(args, "-quick")
	}
	return args
}

// spawnRun runs one system on one workload in a child process and returns its result.
func spawnRun(exe string, sys peers.System, d workload.Durability, name, dir string, quick bool, phase, timeout time.Duration) workload.Result {
	res := workload.Result{System: sys.Name, Durability: d.String(), Workload: name}
	// Earlier runs' dirty pages are written back now, not during this run.
	syscall.Sync()
	if err := spawnJSON(exe, childArgs(childRun, sys.Name, d, name, dir, quick, phase), timeout, &res); err != nil {
		res.Err = err.Error()
	}
	return res
}

// spawnJSON runs a child with args and decodes the JSON it prints into out. A child that
// fails may still print its partial result (the engine children do); out then holds it and
// the error says why the child failed.
func spawnJSON(exe string, args []string, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("killed after %s", timeout)
	}
	jerr := json.Unmarshal(stdout.Bytes(), out)
	if err != nil {
		return fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	if jerr != nil {
		return fmt.Errorf("child output: %w", jerr)
	}
	return nil
}

// spawnCrash runs the crash writer in a child, kills it with SIGKILL after it has written for
// after, then reopens the store here and counts what came back.
func spawnCrash(exe string, sys peers.System, d workload.Durability, dir string, cfg workload.Config, quick bool, after time.Duration) report.Crash {
	out := report.Crash{System: sys.Name, Durability: d.String()}
	cmd := exec.Command(exe, childArgs(childCrash, sys.Name, d, "", dir, quick, 0)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		out.Err = err.Error()
		return out
	}
	if err := cmd.Start(); err != nil {
		out.Err = err.Error()
		return out
	}
	log := workload.NewCrashLog(cfg.Streams)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pipe)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if line == "ready" {
				once.Do(func() { close(ready) })
				continue
			}
			log.Add(line)
		}
		once.Do(func() { close(ready) })
	}()
	select {
	case <-ready:
		time.Sleep(after)
	case <-time.After(time.Minute):
	}
	killErr := cmd.Process.Signal(syscall.SIGKILL)
	wg.Wait() // every line the child wrote before it died is read
	waitErr := cmd.Wait()
	if !killedBySignal(waitErr) {
		out.Err = fmt.Sprintf("child ended before the kill (%v): %s", waitErr, lastLine(stderr.String()))
		return out
	}
	if killErr != nil {
		out.Err = fmt.Sprintf("kill: %v", killErr)
		return out
	}
	res, err := workload.VerifyAfterCrash(sys.Open, dir, d, cfg, log)
	out.CrashResult = res
	if err != nil {
		out.Err = err.Error()
	}
	return out
}

func killedBySignal(err error) bool {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
