package sink

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mm2go/mm2/uplink"
)

// Options configure a Sink.
type Options struct {
	Broker   string // e.g. ssl://broker:8883
	Topic    string // payload topics; default mm2/+/+
	Share    string // shared subscription group: subscribe to $share/GROUP/Topic
	ClientID string // required: the broker keeps the session (and what arrives while away) under it
	Username string
	Password string
	TLS      *tls.Config
	// CleanSession drops the broker's session at connect: what was
	// published while the sink was away is not delivered.
	CleanSession bool
	Values       Values
	Out          io.Writer // JSON lines
	Log          *slog.Logger
}

// Sink decodes payloads, drops duplicates and writes each record once.
type Sink struct {
	opts    Options
	log     *slog.Logger
	mu      sync.Mutex // guards streams, w, buf
	streams map[string]*seqs
	w       *bufio.Writer
	buf     []byte

	payloads, records, duplicates, badPayloads, statusMsgs atomic.Uint64
	connected, subscribed                                  atomic.Bool
	gapLog                                                 time.Time
}

// New returns a sink writing to opts.Out.
func New(opts Options) *Sink {
	if opts.Topic == "" {
		opts.Topic = uplink.DefaultTopicPrefix + "/+/+"
	}
	s := &Sink{opts: opts, log: opts.Log, streams: map[string]*seqs{}, w: bufio.NewWriterSize(opts.Out, 64<<10)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Subscription is the topic filter the sink subscribes to.
func (s *Sink) Subscription() string {
	if s.opts.Share != "" {
		return "$share/" + s.opts.Share + "/" + s.opts.Topic
	}
	return s.opts.Topic
}

// Handle takes one message. A status message (the gateway's last will or
// online notice, on <prefix>/<device>/status) is logged, not decoded. A
// payload that does not decode is counted and logged; nothing of it is
// written.
func (s *Sink) Handle(topic string, payload []byte) {
	if strings.HasSuffix(topic, "/status") {
		s.statusMsgs.Add(1)
		s.log.Info("device status", "topic", topic, "status", string(payload[:min(len(payload), 64)]))
		return
	}
	b, err := uplink.Decode(payload)
	if err != nil {
		s.badPayloads.Add(1)
		s.log.Warn("payload skipped", "topic", topic, "bytes", len(payload), "err", err)
		return
	}
	s.payloads.Add(1)
	device := DeviceOf(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	var q *seqs
	var cur = -1
	Each(device, &b, s.opts.Values, func(r *Record, run int) {
		if run != cur {
			cur = run
			q = s.streams[r.Stream]
			if q == nil {
				q = &seqs{}
				s.streams[r.Stream] = q
			}
			if q.started && r.Seq > q.max+JumpAtLeast {
				s.log.Info("sequence jump: the gateway restarted after a crash", "stream", r.Stream, "from_seq", q.max, "to_seq", r.Seq)
			} else if q.started && r.Seq > q.max+1 {
				s.gap(r.Stream, q.max+1, r.Seq-1)
			}
		}
		if !q.add(r.Seq) {
			s.duplicates.Add(1)
			return
		}
		s.records.Add(1)
		s.buf = AppendJSON(s.buf[:0], r)
		_, _ = s.w.Write(s.buf) // a failed write sticks in s.w: the Flush below logs it
	})
	if err := s.w.Flush(); err != nil {
		s.log.Error("writing records", "err", err)
	}
}

// gap logs a jump in a stream's sequence numbers, at most once a second:
// with shared subscriptions the other sinks fill such gaps.
func (s *Sink) gap(stream string, from, to uint64) {
	if now := time.Now(); now.Sub(s.gapLog) >= time.Second {
		s.gapLog = now
		s.log.Info("gap", "stream", stream, "from_seq", from, "to_seq", to, "missing", to-from+1)
	}
}

// Report lists every stream seen, in name order.
func (s *Sink) Report() []StreamReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StreamReport, 0, len(s.streams))
	for name, q := range s.streams {
		out = append(out, StreamReport{Stream: name, Records: q.unique, First: q.first, Max: q.max, Missing: q.missing(),
			Jumps: q.jumps, Jumped: q.jumped})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stream < out[j].Stream })
	return out
}

// Run connects, subscribes at QoS 1 and handles messages until ctx is
// done. The broker's PUBACK for a message goes out after its records are
// written, so a crash of the sink makes the broker deliver them again.
func (s *Sink) Run(ctx context.Context) error {
	if s.opts.Broker == "" || s.opts.ClientID == "" {
		return errors.New("sink: need a broker and a client id")
	}
	opts := mqtt.NewClientOptions().AddBroker(s.opts.Broker).SetClientID(s.opts.ClientID).
		SetUsername(s.opts.Username).SetPassword(s.opts.Password).
		SetCleanSession(s.opts.CleanSession).SetOrderMatters(true).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).SetKeepAlive(30 * time.Second)
	if s.opts.TLS != nil {
		opts.SetTLSConfig(s.opts.TLS)
	}
	sub := s.Subscription()
	handler := func(_ mqtt.Client, m mqtt.Message) { s.Handle(m.Topic(), m.Payload()) }
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		s.connected.Store(true)
		s.log.Info("connected; subscribing", "broker", s.opts.Broker, "topic", sub)
		tok := c.Subscribe(sub, 1, handler)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			s.log.Error("subscribe failed", "topic", sub, "err", tok.Error())
			return
		}
		s.subscribed.Store(true)
		s.log.Info("subscribed", "topic", sub)
	})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		s.connected.Store(false)
		s.subscribed.Store(false)
		s.log.Warn("connection lost", "err", err)
	})
	// Messages of a kept session can arrive before the subscription is
	// made again: route them too.
	opts.SetDefaultPublishHandler(handler)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("sink: connect %s: %w", s.opts.Broker, err)
		}
	case <-ctx.Done():
	}
	<-ctx.Done()
	c.Disconnect(250)
	s.connected.Store(false)
	s.mu.Lock()
	err := s.w.Flush()
	s.mu.Unlock()
	return err
}

// Connected reports whether the broker connection is up.
func (s *Sink) Connected() bool { return s.connected.Load() }

// Subscribed reports whether the subscription of the current connection
// was confirmed by the broker.
func (s *Sink) Subscribed() bool { return s.subscribed.Load() }

var (
	descPayloads   = prometheus.NewDesc("mm2_sink_payloads_total", "Payloads decoded.", nil, nil)
	descRecords    = prometheus.NewDesc("mm2_sink_records_total", "Records written (duplicates dropped).", nil, nil)
	descDuplicates = prometheus.NewDesc("mm2_sink_duplicate_records_total", "Records dropped as duplicates of a (stream, seq) already written.", nil, nil)
	descBad        = prometheus.NewDesc("mm2_sink_bad_payloads_total", "Messages that did not decode; nothing of them was written.", nil, nil)
	descStatus     = prometheus.NewDesc("mm2_sink_status_messages_total", "Device status messages (last will, online).", nil, nil)
	descMissing    = prometheus.NewDesc("mm2_sink_missing_records", "Sequence numbers not seen between each stream's first and highest, summed.", nil, nil)
	descStreams    = prometheus.NewDesc("mm2_sink_streams", "Streams seen.", nil, nil)
	descConnected  = prometheus.NewDesc("mm2_sink_connected", "1 while the broker connection is up.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Sink) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPayloads, descRecords, descDuplicates, descBad, descStatus, descMissing, descStreams, descConnected} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Sink) Collect(ch chan<- prometheus.Metric) {
	c := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	g := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	c(descPayloads, s.payloads.Load())
	c(descRecords, s.records.Load())
	c(descDuplicates, s.duplicates.Load())
	c(descBad, s.badPayloads.Load())
	c(descStatus, s.statusMsgs.Load())
	s.mu.Lock()
	var missing uint64
	for _, q := range s.streams {
		missing += q.missing()
	}
	n := len(s.streams)
	s.mu.Unlock()
	g(descMissing, float64(missing))
	g(descStreams, float64(n))
	conn := 0.0
	if s.connected.Load() {
		conn = 1
	}
	g(descConnected, conn)
}
