package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/inputs"
	"github.com/mm2go/mm2/uplink"
)

// Input restarts: an input that fails is started again after a wait that
// doubles from restartFirst up to restartLongest, back to restartFirst after it ran
// for restartLongest.
const (
	restartFirst   = time.Second
	restartLongest = 30 * time.Second
	logEvery       = 10 * time.Second // at most one malformed-input line per input per this
)

// Agent is a running mm2 run.
type Agent struct {
	path string
	log  *slog.Logger
	lvl  *slog.LevelVar
	m    *mm2.Manager

	mu       sync.Mutex // guards the fields below
	plan     *Plan
	running  map[string]*runningInput // by PlannedInput.Ident
	counters map[string]*counters     // by input name; kept across reloads
	up       *uplinkRunner

	reloads, reloadFailures atomic.Uint64
	httpSrv                 *httpServer
}

type runningInput struct {
	pi     PlannedInput
	cancel context.CancelFunc
	done   chan struct{}
}

// counters of one input.
type counters struct {
	records, malformed, unmapped, rejected atomic.Uint64
	running                                atomic.Bool
}

// New opens the store of plan and configures every input's streams; Run
// starts the rest. path is the config file SIGHUP reads again.
func New(path string, plan *Plan, logOut io.Writer) (*Agent, error) {
	lvl := new(slog.LevelVar)
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: lvl}))
	a := &Agent{path: path, log: log, lvl: lvl, plan: plan,
		running: map[string]*runningInput{}, counters: map[string]*counters{}}
	a.setLevel(plan.LogLevel)
	opts := plan.Store
	opts.Logger = log
	m, err := mm2.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	a.m = m
	for _, d := range m.Damage() {
		log.Warn("store: damage found at open", "err", d)
	}
	for _, pi := range plan.Inputs {
		if _, err := a.configure(pi.Input); err != nil {
			m.Close()
			return nil, fmt.Errorf("%s: %w", pi.Key, err)
		}
	}
	return a, nil
}

func (a *Agent) setLevel(s string) {
	l := slog.LevelInfo
	switch s {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	}
	a.lvl.Set(l)
}

// Manager is the agent's store.
func (a *Agent) Manager() *mm2.Manager { return a.m }

// configure declares the input's streams and returns their handles.
func (a *Agent) configure(in inputs.Input) (map[mm2.StreamID]*mm2.Stream, error) {
	hs := make(map[mm2.StreamID]*mm2.Stream, len(in.Streams()))
	for _, s := range in.Streams() {
		h, err := a.m.Configure(s.ID, s.Kind, s.Period)
		if err != nil {
			return nil, fmt.Errorf("stream %v (%s): %w", s.ID, s.What, err)
		}
		hs[s.ID] = h
	}
	return hs, nil
}

// Run runs until ctx is done (SIGTERM), reloading on every value of hup,
// then powers the store down within the plan's shutdown timeout and closes
// it. It returns nil after a clean power-down.
func (a *Agent) Run(ctx context.Context, hup <-chan struct{}) error {
	a.log.Info("mm2 run: started", "config", a.path, "store", a.m.Stats().Backend, "dir", a.plan.Store.Dir,
		"sync", a.plan.Store.Sync.String(), "inputs", len(a.plan.Inputs))
	a.mu.Lock()
	if a.plan.HTTPListen != "" {
		srv, err := a.serveHTTP(a.plan.HTTPListen)
		if err != nil {
			a.mu.Unlock()
			a.m.Close()
			return err
		}
		a.httpSrv = srv
	}
	a.startInputsLocked(a.plan.Inputs)
	a.startUplinkLocked(a.plan.Uplink)
	a.mu.Unlock()
	tick := time.NewTicker(a.plan.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return a.shutdown()
		case <-hup:
			a.Reload()
		case <-tick.C:
			if err := a.m.Tick(); err != nil {
				a.log.Warn("store: tick", "err", err)
			}
		}
	}
}

// Reload reads the config file again. Inputs whose table changed (or went
// away) stop and the new ones start; an unchanged input keeps running
// untouched. A changed [uplink] restarts the uplink: its batch in flight is
// NACKed and sent again, so no record is lost. [store] and [http] changes
// need a restart; they are reported and left as they are. An invalid file
// changes nothing.
func (a *Agent) Reload() {
	plan, err := Load(a.path)
	if err != nil {
		a.reloadFailures.Add(1)
		a.log.Error("reload: config refused; nothing changed", "err", err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.plan
	if plan.Config.Store != old.Config.Store {
		a.log.Warn("reload: [store] changed; it takes effect at the next start")
	}
	if plan.HTTPListen != old.HTTPListen {
		a.log.Warn("reload: [http] changed; it takes effect at the next start")
	}
	// Configure the new inputs' streams before anything stops: a kind or
	// period clash with what the store holds refuses the whole reload.
	for _, pi := range plan.Inputs {
		if _, ok := a.running[pi.Ident]; ok {
			continue
		}
		for _, s := range pi.Input.Streams() {
			if h, err := a.m.Stream(s.ID); err == nil && h.Kind() != s.Kind {
				a.reloadFailures.Add(1)
				a.log.Error("reload: refused; nothing changed", "input", pi.Key, "stream", s.ID.String(),
					"err", fmt.Sprintf("the store holds it as %v", h.Kind()))
				return
			}
		}
	}
	keep := map[string]bool{}
	for _, pi := range plan.Inputs {
		keep[pi.Ident] = true
	}
	for ident, ri := range a.running {
		if !keep[ident] {
			a.log.Info("reload: stopping input", "input", ri.pi.Input.Name())
			ri.cancel()
			<-ri.done
			delete(a.running, ident)
		}
	}
	var fresh []PlannedInput
	for _, pi := range plan.Inputs {
		if _, ok := a.running[pi.Ident]; !ok {
			fresh = append(fresh, pi)
		}
	}
	a.startInputsLocked(fresh)
	if (plan.Uplink == nil) != (old.Uplink == nil) || plan.Uplink != nil && plan.Uplink.Ident != old.Uplink.Ident {
		a.log.Info("reload: uplink settings changed; reconnecting")
		a.stopUplinkLocked()
		a.startUplinkLocked(plan.Uplink)
	}
	a.setLevel(plan.LogLevel)
	plan.Config.Store, plan.Store, plan.HTTPListen = old.Config.Store, old.Store, old.HTTPListen
	a.plan = plan
	a.reloads.Add(1)
	a.log.Info("reload: done", "inputs", len(plan.Inputs), "started", len(fresh))
}

func (a *Agent) countersOf(name string) *counters {
	c := a.counters[name]
	if c == nil {
		c = &counters{}
		a.counters[name] = c
	}
	return c
}

func (a *Agent) startInputsLocked(list []PlannedInput) {
	for _, pi := range list {
		hs, err := a.configure(pi.Input)
		if err != nil {
			a.log.Error("input not started", "input", pi.Input.Name(), "err", err)
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		ri := &runningInput{pi: pi, cancel: cancel, done: make(chan struct{})}
		a.running[pi.Ident] = ri
		s := &sink{name: pi.Input.Name(), streams: make(map[uint64]*mm2.Stream, len(hs)), c: a.countersOf(pi.Input.Name()),
			log: a.log, rl: &inputs.RateLog{Every: logEvery}}
		for id, h := range hs {
			s.streams[streamKey(id)] = h
		}
		go a.runInput(ctx, ri, s)
	}
}

// runInput runs one input, restarting it after failures until ctx is done.
func (a *Agent) runInput(ctx context.Context, ri *runningInput, s *sink) {
	defer close(ri.done)
	in := ri.pi.Input
	wait := restartFirst
	for {
		start := time.Now()
		s.c.running.Store(true)
		err := in.Run(ctx, s, a.log)
		s.c.running.Store(false)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			a.log.Info("input finished", "input", in.Name())
			return
		}
		if time.Since(start) > restartLongest {
			wait = restartFirst
		}
		a.log.Warn("input failed; restarting", "input", in.Name(), "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, restartLongest)
	}
}

// sink is the inputs.Sink of one input.
type sink struct {
	name    string
	streams map[uint64]*mm2.Stream // by streamKey
	c       *counters
	log     *slog.Logger
	rl      *inputs.RateLog
}

func (s *sink) Record(id mm2.StreamID, v uint32, utcMs int64) {
	h := s.streams[streamKey(id)]
	if h == nil {
		s.c.unmapped.Add(1)
		return
	}
	var err error
	if h.Kind() == mm2.TSD {
		err = h.WriteTSD(v)
	} else {
		err = h.WriteEVT(v, utcMs)
	}
	if err != nil {
		s.c.rejected.Add(1)
		s.rl.Log(s.log, "store refused a record", "input", s.name, "stream", id.String(), "err", err)
		return
	}
	s.c.records.Add(1)
}

// streamKey packs a stream id for a cheap map lookup per record.
func streamKey(id mm2.StreamID) uint64 { return uint64(id.Source)<<32 | uint64(id.Sensor) }

func (s *sink) Malformed(err error) {
	s.c.malformed.Add(1)
	s.rl.Log(s.log, "malformed input skipped", "input", s.name, "err", err)
}

func (s *sink) Unmapped() { s.c.unmapped.Add(1) }

// uplinkRunner is a running MQTT uplink.
type uplinkRunner struct {
	mq     *uplink.MQTT
	up     *uplink.Uplink
	cancel context.CancelFunc
	done   chan struct{}
}

func (a *Agent) startUplinkLocked(p *UplinkPlan) {
	if p == nil {
		return
	}
	mc := p.MQTT
	mc.Logger = a.log
	mq, err := uplink.NewMQTT(mc)
	if err != nil {
		a.log.Error("uplink not started", "err", err)
		return
	}
	uc := p.Uplink
	uc.Logger = a.log
	up, err := uplink.New(a.m, mq, uc)
	if err != nil {
		mq.Close()
		a.log.Error("uplink not started", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &uplinkRunner{mq: mq, up: up, cancel: cancel, done: make(chan struct{})}
	a.up = r
	go func() {
		defer close(r.done)
		for {
			err := up.Run(ctx)
			if ctx.Err() != nil || errors.Is(err, mm2.ErrClosed) {
				return
			}
			a.log.Error("uplink stopped; restarting", "err", err, "retry_in", restartFirst)
			select {
			case <-ctx.Done():
				return
			case <-time.After(restartFirst):
			}
		}
	}()
	if a.httpSrv != nil {
		a.httpSrv.setUplink(up)
	}
}

func (a *Agent) stopUplinkLocked() {
	r := a.up
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
	r.mq.Close()
	a.up = nil
	if a.httpSrv != nil {
		a.httpSrv.setUplink(nil)
	}
}

// Connected reports whether the uplink's MQTT connection is up (false with
// no uplink).
func (a *Agent) Connected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.up != nil && a.up.mq.Connected()
}

// shutdown stops the inputs, then the uplink (its batch in flight is NACKed
// unless confirmed), and powers the store down before the deadline.
func (a *Agent) shutdown() error {
	deadline := time.Now().Add(a.plan.ShutdownTimeout)
	a.log.Info("mm2 run: stopping", "deadline", a.plan.ShutdownTimeout)
	a.mu.Lock()
	for ident, ri := range a.running {
		ri.cancel()
		<-ri.done
		delete(a.running, ident)
	}
	a.stopUplinkLocked()
	a.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := a.m.PowerDown(ctx)
	st := a.m.Stats()
	if a.httpSrv != nil {
		a.httpSrv.close()
	}
	if cerr := a.m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		a.log.Error("mm2 run: power-down failed", "err", err)
		return fmt.Errorf("power-down: %w", err)
	}
	a.log.Info("mm2 run: powered down", "unsent_records", st.New+st.Pending)
	return nil
}
