package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/mm2go/mm2"
)

// Defaults of MQTTConfig.
const (
	DefaultTopicPrefix     = "mm2"
	DefaultConnectTimeout  = 5 * time.Second
	DefaultMinReconnect    = 100 * time.Millisecond
	DefaultMaxReconnect    = 30 * time.Second
	DefaultPublishTimeout  = 10 * time.Second
	DefaultKeepAlive       = 30 * time.Second
	disconnectQuiesceMilli = 250
)

// ErrNotConnected means the MQTT client has no connection to the broker now; the
// batch was not published.
var ErrNotConnected = errors.New("uplink: mqtt: not connected")

// MQTTConfig configures an MQTT Sender.
type MQTTConfig struct {
	Broker         string        // e.g. "tcp://127.0.0.1:1883"
	Device         string        // topic segment naming this gateway; required
	TopicPrefix    string        // "" = DefaultTopicPrefix
	ClientID       string        // "" = "mm2-" + Device
	Username       string        // optional
	Password       string        // optional
	ConnectTimeout time.Duration // per connection attempt; 0 = DefaultConnectTimeout
	MinReconnect   time.Duration // first wait after a failed attempt; 0 = DefaultMinReconnect
	MaxReconnect   time.Duration // cap of the doubling wait; 0 = DefaultMaxReconnect
	PublishTimeout time.Duration // when Send's ctx has no deadline; 0 = DefaultPublishTimeout
	KeepAlive      time.Duration // 0 = DefaultKeepAlive
	Logger         *slog.Logger  // nil = discard
	TLS            *tls.Config   // for ssl:// or tls:// brokers; nil = the system defaults (see TLSFiles)
	Will           *Will         // last will, and the message published on every connection; nil = none
}

// MQTT is a Sender that publishes each batch at QoS 1 to
// <prefix>/<device>/<source> and returns nil only when the broker's PUBACK
// arrived. It keeps one connection and reconnects by itself, waiting
// MinReconnect after a failed attempt and doubling up to MaxReconnect.
type MQTT struct {
	cfg    MQTTConfig
	client mqtt.Client
	log    *slog.Logger
	lost   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// NewMQTT returns a connecting MQTT sender: it does not wait for the first
// connection (Send fails with ErrNotConnected until then; WaitConnected waits).
// Close it to stop reconnecting and disconnect.
func NewMQTT(cfg MQTTConfig) (*MQTT, error) {
	if cfg.Broker == "" || cfg.Device == "" || strings.ContainsAny(cfg.Device, "/+#") {
		return nil, fmt.Errorf("%w: uplink: mqtt: need a broker and a device name without / + #", mm2.ErrInvalidArgument)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.ConnectTimeout, DefaultConnectTimeout)
	def(&cfg.MinReconnect, DefaultMinReconnect)
	def(&cfg.MaxReconnect, DefaultMaxReconnect)
	def(&cfg.PublishTimeout, DefaultPublishTimeout)
	def(&cfg.KeepAlive, DefaultKeepAlive)
	cfg.MaxReconnect = max(cfg.MaxReconnect, cfg.MinReconnect)
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = DefaultTopicPrefix
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "mm2-" + cfg.Device
	}
	s := &MQTT{
		cfg: cfg, log: cfg.Logger,
		lost: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetKeepAlive(cfg.KeepAlive).
		SetOrderMatters(false).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.log.Warn("uplink: mqtt: connection lost", "broker", cfg.Broker, "err", err)
			select {
			case s.lost <- struct{}{}:
			default:
			}
		})
	if cfg.TLS != nil {
		opts.SetTLSConfig(cfg.TLS)
	}
	if w := cfg.Will; w != nil {
		opts.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retain)
		if w.Online != nil {
			opts.SetOnConnectHandler(func(c mqtt.Client) { c.Publish(w.Topic, w.QoS, w.Retain, w.Online) })
		}
	}
	s.client = mqtt.NewClient(opts)
	go s.connectLoop()
	return s, nil
}

// Topic is the topic of a source's batches: <prefix>/<device>/<source>.
func (s *MQTT) Topic(src mm2.Source) string { return Topic(s.cfg.TopicPrefix, s.cfg.Device, src) }

// Topic is <prefix>/<device>/<source name> (gateway, hosted, ble, can,
// source4 … source7).
func Topic(prefix, device string, src mm2.Source) string {
	return prefix + "/" + device + "/" + src.String()
}

// Connected reports whether the connection is up now.
func (s *MQTT) Connected() bool { return s.client.IsConnectionOpen() }

// WaitConnected waits until the connection is up or ctx is done.
func (s *MQTT) WaitConnected(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !s.Connected() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("uplink: mqtt: waiting for %s: %w", s.cfg.Broker, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Send publishes b at QoS 1 and returns nil only when the broker's PUBACK
// arrived before ctx (or PublishTimeout, when ctx has no deadline) ended.
// A lost connection, a refused publish and a missing PUBACK are errors, never
// a confirmation. The payload is a fresh buffer per call: the client may
// still hold it after a timeout.
func (s *MQTT) Send(ctx context.Context, b *Batch) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.PublishTimeout)
		defer cancel()
	}
	if !s.client.IsConnectionOpen() {
		return ErrNotConnected
	}
	payload, err := Encode(make([]byte, 0, EncodedSize(b)), b)
	if err != nil {
		return err
	}
	tok := s.client.Publish(s.Topic(b.Source), 1, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("uplink: mqtt: publish batch %d: %w", b.ID, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("uplink: mqtt: no PUBACK for batch %d: %w", b.ID, ctx.Err())
	}
}

// Close stops reconnecting and disconnects. It is safe to call twice.
func (s *MQTT) Close() error {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		if s.client.IsConnected() {
			if w := s.cfg.Will; w != nil && w.Online != nil {
				// A clean stop sends no will: say offline ourselves.
				s.client.Publish(w.Topic, w.QoS, w.Retain, w.Payload).WaitTimeout(time.Second)
			}
			s.client.Disconnect(disconnectQuiesceMilli)
		}
	})
	return nil
}

// connectLoop keeps the connection up until Close.
func (s *MQTT) connectLoop() {
	defer close(s.done)
	wait := s.cfg.MinReconnect
	for {
		select {
		case <-s.lost: // a loss reported before this attempt is stale
		default:
		}
		tok := s.client.Connect()
		select {
		case <-tok.Done():
		case <-s.stop:
			// The attempt ends within ConnectTimeout; wait so that nothing
			// of it outlives Close.
			tok.WaitTimeout(s.cfg.ConnectTimeout + time.Second)
			return
		}
		if err := tok.Error(); err != nil {
			s.log.Warn("uplink: mqtt: connect failed", "broker", s.cfg.Broker, "retry_in", wait, "err", err)
			if !s.sleep(wait) {
				return
			}
			wait = min(2*wait, s.cfg.MaxReconnect)
			continue
		}
		s.log.Info("uplink: mqtt: connected", "broker", s.cfg.Broker)
		wait = s.cfg.MinReconnect
		select {
		case <-s.lost:
		case <-s.stop:
			return
		}
		if !s.sleep(wait) {
			return
		}
	}
}

func (s *MQTT) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}
