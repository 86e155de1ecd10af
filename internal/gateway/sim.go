package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/uplink"
)

// Config describes one simulation run.
type Config struct {
	Dir      string        // the store (disk backend); required
	Duration time.Duration // simulated driving time
	Seed     uint64
	// Broker is an external MQTT broker URL (tcp://host:port); "" starts the
	// embedded broker.
	Broker      string
	TopicPrefix string // "" = uplink.DefaultTopicPrefix
	Device      string // "" = derived from the seed

	Sync     mm2.SyncPolicy
	DiskCap  int64 // store's disk cap in bytes; 0 = the library's default
	Segment  int   // segment file size; 0 = the library's default
	PoolSize int   // RAM pool bytes; 0 = the linux profile's

	CANSignals int // CAN signals (10–100 Hz); 0 = 200

	Outages   int           // scripted network outages
	OutageLen time.Duration // length of each; 0 = 4 minutes (capped to fit)
	Offline   bool          // the link is down from the start to the end (no final drain)
	PowerCut  bool          // a power cut with PowerDown, then a restart
	// Crash is a process crash (kill -9): the manager is abandoned without
	// Close or PowerDown and a new process reopens the same files in the
	// same boot of the machine; it must destroy nothing.
	Crash bool
	// PowerLoss is a power cut without warning (no PowerDown): the files
	// lose what no sync covered, the machine boots again; what it destroys
	// must stay inside the sync policy's window.
	PowerLoss bool
	Parked    time.Duration // how long the vehicle stays off after the power cut; 0 = 5 minutes

	// Backlog is how many unacknowledged records the simulation lets pile up
	// while the link is up before it waits for the uplink (simulated time
	// runs much faster than the real uplink); 0 = 4,000.
	Backlog int
	// DrainTimeout bounds the final drain in real time; 0 = 60 s.
	DrainTimeout time.Duration

	Logger *slog.Logger // the manager's and uplink's logs; nil = discard
	// OnBoot is called after every start of the gateway (the first and each
	// restart) with the new manager and uplink, e.g. to point a metrics
	// server at them.
	OnBoot func(m *mm2.Manager, up *uplink.Uplink)
}

// Start is the simulated time at which every run starts.
var Start = time.Date(2025, 3, 3, 7, 0, 0, 0, time.UTC)

// Phase names, as the progress line shows them.
const (
	PhaseDriving   = "driving"
	PhaseLinkDown  = "outage: link down"
	PhaseFailing   = "outage: uplink failing"
	PhaseCatchUp   = "catch-up"
	PhasePowerCut  = "power cut"
	PhaseCrash     = "process crash"
	PhasePowerLoss = "power loss"
	PhaseDrain     = "drain"
	PhaseStopping  = "stopping (signal)"
	PhaseDone      = "done"
)

// Progress is a snapshot for the live progress line.
type Progress struct {
	Sim, Total time.Duration // simulated time elapsed and planned
	Phase      string
	PoolPct    float64
	DiskBytes  int64
	Backlog    uint64 // unacknowledged records in the store
	Written    uint64
	Delivered  uint64 // unique records at the cloud
	Boots      int
}

// event is one scripted change at a simulated time (ms from Start).
type event struct {
	at   int64
	kind string // "outage", "restore", "powercut", "powerloss", "crash"
	link bool   // outage kind: link down (else the uplink's sends fail)
	n    int    // outage number
}

// Sim is one run. Create it with New, run it with Run.
type Sim struct {
	cfg Config
	sig []Signal
	v   *Vehicle

	clock atomic.Int64 // simulated UTC ms
	t0    int64

	broker  *Broker
	link    *Link
	cloud   *Checker
	brokerU string
	device  string
	subID   string

	failing atomic.Bool // the uplink's sends fail (an outage of the other kind)

	b       *boot    // the running gateway
	machine *PowerFS // the machine's current boot (nil: the next start boots it)
	boots   int      // boots of the machine so far

	led      []ledger // by signal
	events   []event
	phase    string
	inOutage bool
	outageN  int

	mu   sync.Mutex // guards prog and acked
	prog Progress

	report        Report
	errs          []string
	writtenBefore uint64 // records written by earlier boots
	skipped       int64  // ms the vehicle was off (parked, rebooting)
}

// ledger is what the simulation knows of one stream across restarts.
type ledger struct {
	written  SeqSet // every record the vehicle wrote (write returned nil)
	acked    SeqSet // records of batches the broker confirmed (uplink ACKed)
	cwIn     SeqSet // held at a power loss, not recovered, inside the policy's window
	cwOut    SeqSet // held at a crash or power loss, not recovered, outside what the policy allows
	drops    mm2.Drops
	refused  uint64
	nPrev    uint64 // writes this boot at the previous checkpoint observation
	nDurable uint64 // writes this boot known durable (before the last checkpoint seen)
}

// boot is one start of the gateway process: a manager over the machine's
// filesystem, an MQTT sender through the link and an uplink.
type boot struct {
	fs     *Process
	m      *mm2.Manager
	sender *uplink.MQTT
	up     *uplink.Uplink
	cancel context.CancelFunc
	done   chan struct{}
	cps    uint64 // checkpoints started at the last observation
	// covers are the checkpoints started and not yet durable, oldest
	// first: from ordinal ord on, each holds at least n writes per stream.
	covers []cover
	upErrs int
}

// cover is what checkpoints started since an observation hold at least:
// their snapshots came after it, so every write made before it.
type cover struct {
	ord uint64
	n   []uint64
}

// New prepares a run: it starts the embedded broker (or uses cfg.Broker),
// the link and the cloud subscriber. Close releases them.
func New(cfg Config) (*Sim, error) {
	if cfg.Dir == "" {
		return nil, errors.New("gateway: no store directory")
	}
	if cfg.Duration <= 0 {
		return nil, errors.New("gateway: the duration must be positive")
	}
	if cfg.CANSignals <= 0 {
		cfg.CANSignals = 200
	}
	if cfg.Parked <= 0 {
		cfg.Parked = 5 * time.Minute
	}
	if cfg.OutageLen <= 0 {
		cfg.OutageLen = 4 * time.Minute
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 4000
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 60 * time.Second
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = uplink.DefaultTopicPrefix
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{cfg: cfg, sig: Signals(cfg.CANSignals)}
	s.v = NewVehicle(s.sig, cfg.Seed)
	s.led = make([]ledger, len(s.sig))
	s.t0 = Start.UnixMilli()
	s.clock.Store(s.t0)
	s.device = cfg.Device
	if s.device == "" {
		s.device = fmt.Sprintf("truck-%d-%x", cfg.Seed, time.Now().UnixNano()&0xffffff)
	}
	s.subID = "cloud-" + s.device
	s.plan()

	target := ""
	if cfg.Broker == "" {
		b, err := StartBroker()
		if err != nil {
			return nil, err
		}
		s.broker = b
		s.brokerU, target = b.URL(), b.Addr()
	} else {
		s.brokerU = cfg.Broker
		t, err := hostPort(cfg.Broker)
		if err != nil {
			return nil, err
		}
		target = t
	}
	link, err := NewLink(target)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.link = link
	s.cloud = NewChecker(s.t0, s.t0+cfg.Duration.Milliseconds()+cfg.Parked.Milliseconds()+time.Hour.Milliseconds())
	if err := s.cloud.Subscribe(s.brokerU, cfg.TopicPrefix, s.device, s.subID); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// hostPort takes host:port out of an MQTT URL (tcp://, mqtt://).
func hostPort(u string) (string, error) {
	for _, p := range []string{"tcp://", "mqtt://"} {
		if len(u) > len(p) && u[:len(p)] == p {
			return u[len(p):], nil
		}
	}
	return "", fmt.Errorf("gateway: broker URL %q: want tcp://host:port", u)
}

// Close stops the subscriber, the link and the embedded broker.
func (s *Sim) Close() {
	if s.cloud != nil {
		s.cloud.Close(s.brokerU, s.subID)
	}
	if s.link != nil {
		s.link.Close()
	}
	if s.broker != nil {
		s.broker.Close()
	}
}

// Device is the device name in the MQTT topics.
func (s *Sim) Device() string { return s.device }

// BrokerURL is the broker the cloud subscriber uses.
func (s *Sim) BrokerURL() string { return s.brokerU }

// Signals is the vehicle's signal table.
func (s *Sim) Signals() []Signal { return s.sig }

// plan lays out the script: outages spread over the run, the power cut in
// the middle of an outage (so that much is buffered in RAM and on disk),
// the power loss late in the first outage and the process crash late in
// the last one (or in plain driving without outages).
func (s *Sim) plan() {
	T := s.cfg.Duration.Milliseconds()
	N := s.cfg.Outages
	if s.cfg.Offline {
		N = 0
	}
	L := s.cfg.OutageLen.Milliseconds()
	if N > 0 {
		L = min(L, T/int64(2*N+2))
	}
	align := func(ms int64) int64 { return ms / 1000 * 1000 }
	type win struct{ from, to int64 }
	var outs []win
	for i := 0; i < N; i++ {
		from := align(T * int64(2*i+1) / int64(2*N+1))
		outs = append(outs, win{from, from + align(L)})
		s.events = append(s.events, event{at: from, kind: "outage", link: i%2 == 0, n: i + 1},
			event{at: from + align(L), kind: "restore", n: i + 1})
	}
	if s.cfg.PowerCut {
		at := align(T * 2 / 5)
		if N >= 2 {
			o := outs[(N-1)/2]
			at = align((o.from + o.to) / 2)
		}
		s.events = append(s.events, event{at: at, kind: "powercut"})
	}
	if s.cfg.PowerLoss {
		at := align(T * 3 / 5)
		if N >= 3 {
			o := outs[0]
			at = align(o.from + (o.to-o.from)*3/4)
		}
		s.events = append(s.events, event{at: at, kind: "powerloss"})
	}
	if s.cfg.Crash {
		at := align(T * 4 / 5)
		if N >= 3 {
			o := outs[N-1]
			at = align(o.from + (o.to-o.from)*3/4)
		}
		s.events = append(s.events, event{at: at, kind: "crash"})
	}
	sort.SliceStable(s.events, func(i, j int) bool { return s.events[i].at < s.events[j].at })
}

// Progress returns the latest snapshot.
func (s *Sim) Progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prog
	p.Delivered = s.cloud.Stats().Unique
	return p
}

func (s *Sim) setPhase(p string) {
	s.phase = p
	s.mu.Lock()
	s.prog.Phase = p
	s.mu.Unlock()
}

func (s *Sim) logf(format string, args ...any) {
	at := s.driving()
	s.report.Events = append(s.report.Events, fmt.Sprintf("%s %s", fmtDur(at), fmt.Sprintf(format, args...)))
}

func (s *Sim) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.errs = append(s.errs, msg)
	s.logf("error: %s", msg)
}

func fmtDur(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// driving is the simulated driving time so far (the clock less the time
// the vehicle was off).
func (s *Sim) driving() time.Duration {
	return time.Duration(s.clock.Load()-s.t0-s.skipped) * time.Millisecond
}

func (s *Sim) now() time.Time { return time.UnixMilli(s.clock.Load()) }

// open starts the gateway: opens the store (recovering it), configures the
// streams, connects the sender through the link and starts the uplink. It
// returns what the store held after recovery, per signal.
func (s *Sim) open(ctx context.Context) ([]SeqSet, error) {
	if s.machine == nil {
		s.boots++
		s.machine = NewPowerFS(fmt.Sprintf("%s/boot-%d", s.device, s.boots))
	}
	fs := s.machine.Process()
	m, err := mm2.OpenFS(mm2.Options{Profile: s.profile(), Dir: s.cfg.Dir, Sync: s.cfg.Sync,
		DiskCapBytes: s.cfg.DiskCap, SegmentBytes: s.cfg.Segment, Clock: s.now, Logger: s.cfg.Logger}, fs)
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	for _, d := range m.Damage() {
		s.logf("recovery skipped damage: %v", d)
	}
	if err := s.v.Attach(m, s.clock.Load()); err != nil {
		return nil, err
	}
	held := make([]SeqSet, len(s.sig))
	for i := range s.sig {
		if held[i], err = readAll(s.v.h[i], true); err != nil {
			return nil, fmt.Errorf("read back %v after recovery: %w", s.sig[i].ID, err)
		}
		s.led[i].nPrev, s.led[i].nDurable = 0, 0
	}
	sender, err := uplink.NewMQTT(uplink.MQTTConfig{Broker: "tcp://" + s.link.Addr(), Device: s.device,
		TopicPrefix: s.cfg.TopicPrefix, ClientID: s.device + "-gateway",
		ConnectTimeout: 2 * time.Second, MinReconnect: 20 * time.Millisecond, MaxReconnect: 250 * time.Millisecond,
		PublishTimeout: 2 * time.Second, KeepAlive: 5 * time.Second, Logger: s.cfg.Logger})
	if err != nil {
		return nil, err
	}
	gate := &gatedSender{mqtt: sender, failing: &s.failing}
	b := &boot{fs: fs, m: m, sender: sender, done: make(chan struct{})}
	index := map[mm2.StreamID]int{}
	for i, sg := range s.sig {
		index[sg.ID] = i
	}
	up, err := uplink.New(m, gate, uplink.Config{MaxInFlight: 4, Timeout: 2 * time.Second,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 250 * time.Millisecond, Poll: 20 * time.Millisecond,
		Sources: []mm2.Source{mm2.Gateway, mm2.Hosted, mm2.BLE, mm2.CAN}, Logger: s.cfg.Logger,
		OnResult: func(bt *uplink.Batch, err error) {
			if err != nil {
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			for k, r := range bt.Runs {
				if i, ok := index[bt.Stream(k)]; ok && len(r.Samples) > 0 {
					s.led[i].acked.Add(r.Samples[0].Seq, r.Samples[len(r.Samples)-1].Seq)
				}
			}
		}})
	if err != nil {
		sender.Close()
		return nil, err
	}
	b.up = up
	uctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancel = cancel
	go func() {
		defer close(b.done)
		for uctx.Err() == nil {
			if err := up.Run(uctx); err != nil && uctx.Err() == nil {
				b.upErrs++
				s.cfg.Logger.Warn("uplink stopped; restarting it", "err", err.Error())
				select {
				case <-uctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}()
	s.b = b
	s.mu.Lock()
	s.prog.Boots++
	s.mu.Unlock()
	if s.cfg.OnBoot != nil {
		s.cfg.OnBoot(m, up)
	}
	return held, nil
}

var errUplinkFailing = errors.New("simulated outage: the uplink's sends fail")

func (s *Sim) profile() mm2.Profile {
	p := mm2.ProfileLinux
	if s.cfg.PoolSize > 0 {
		p.PoolBytes = s.cfg.PoolSize
	}
	return p
}

// readAll reads every unacknowledged record of h and returns their sequence
// numbers; with nack the records are made unread again afterwards.
func readAll(h *mm2.Stream, nack bool) (SeqSet, error) {
	var set SeqSet
	if c := h.Counts(); c.Pending > 0 {
		if _, err := h.Nack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
			return set, err
		}
	}
	buf := make([]mm2.Sample, 8192)
	for {
		n, err := h.ReadBulk(buf)
		if errors.Is(err, mm2.ErrNoData) {
			break
		}
		if err != nil {
			return set, err
		}
		for j := 0; j < n; {
			k := j + 1
			for k < n && buf[k].Seq == buf[k-1].Seq+1 {
				k++
			}
			set.Add(buf[j].Seq, buf[k-1].Seq)
			j = k
		}
	}
	if nack && h.Counts().Pending > 0 {
		if _, err := h.Nack(); err != nil && !errors.Is(err, mm2.ErrNoData) {
			return set, err
		}
	}
	return set, nil
}

// stopUplink stops the uplink (its in-flight batches settle) and the sender.
func (s *Sim) stopUplink() {
	b := s.b
	b.cancel()
	<-b.done
	b.sender.Close()
	s.report.UplinkErrors += b.upErrs
	st := b.up.Stats().Total
	s.report.Uplink.Batches += st.Batches
	s.report.Uplink.Acks += st.Acks
	s.report.Uplink.Nacks += st.Nacks
	s.report.Uplink.Timeouts += st.Timeouts
	s.report.Uplink.Conflicts += st.Conflicts
	s.report.Uplink.Bytes += st.Bytes
}

// closeBoot books what this boot wrote: each stream's sequence numbers
// (consecutive within a boot, the last one being the stream's newest) and
// its drop counters.
func (s *Sim) closeBoot() error {
	for i := range s.sig {
		st := s.v.h[i].Stats()
		n := s.v.N[i]
		l := &s.led[i]
		l.drops.RAMFull += st.Drops.RAMFull
		l.drops.DiskCap += st.Drops.DiskCap
		l.drops.Corrupt += st.Drops.Corrupt
		l.refused += s.v.Refused[i]
		if n == 0 {
			continue
		}
		if st.Written < n {
			return fmt.Errorf("%v: newest sequence number %d below the %d records written since the start", s.sig[i].ID, st.Written, n)
		}
		l.written.Add(st.Written-n+1, st.Written)
	}
	return nil
}

// observe samples the store (every 100 ms of simulated time): the pool and
// disk for the progress line and the report, and checkpoints, which bound
// what a crash may lose.
func (s *Sim) observe(ctx context.Context) mm2.Stats {
	st := s.b.m.Stats()
	if st.CheckpointsStarted != s.b.cps {
		c := cover{ord: s.b.cps + 1, n: make([]uint64, len(s.led))}
		for i := range s.led {
			c.n[i] = s.led[i].nPrev
		}
		s.b.covers = append(s.b.covers, c)
		s.b.cps = st.CheckpointsStarted
	}
	for len(s.b.covers) > 0 && s.b.covers[0].ord <= st.DurableCheckpoint {
		for i := range s.led {
			s.led[i].nDurable = s.b.covers[0].n[i]
		}
		s.b.covers = s.b.covers[1:]
	}
	for i := range s.led {
		s.led[i].nPrev = s.v.N[i]
	}
	r := &s.report
	r.PeakPoolPct = max(r.PeakPoolPct, st.UtilizationPct)
	r.PeakDiskBytes = max(r.PeakDiskBytes, st.DiskBytes)
	if s.inOutage && st.UtilizationPct >= float64(mm2.DefaultSpillPercent) && st.DiskBytes > 0 {
		r.Phases.OutageSpill = true
	}
	var written uint64
	for i := range s.v.N {
		written += s.v.N[i]
	}
	s.mu.Lock()
	s.prog.Sim = s.driving()
	s.prog.PoolPct = st.UtilizationPct
	s.prog.DiskBytes = st.DiskBytes
	s.prog.Backlog = st.New + st.Pending
	s.prog.Written = s.writtenBefore + written
	s.mu.Unlock()
	return st
}

// gatedSender is the MQTT sender behind the scripted "failing sends"
// outage: while failing is set every Send fails without publishing. It
// reports the MQTT connection (uplink.Connector) for the metrics.
type gatedSender struct {
	mqtt    *uplink.MQTT
	failing *atomic.Bool
}

func (g *gatedSender) Send(ctx context.Context, b *uplink.Batch) error {
	if g.failing.Load() {
		return errUplinkFailing
	}
	return g.mqtt.Send(ctx, b)
}

// Connected reports the MQTT connection.
func (g *gatedSender) Connected() bool { return g.mqtt.Connected() }
