package gateway

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Broker is an MQTT broker embedded in the process (mochi-mqtt), listening
// on a free 127.0.0.1 port.
type Broker struct {
	srv     *mqtt.Server
	addr    string
	dropped atomic.Uint64
}

// StartBroker starts the embedded broker.
func StartBroker() (*Broker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = 64 << 10
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler), Capabilities: caps,
		SysTopicResendInterval: 3600})
	b := &Broker{srv: srv, addr: ln.Addr().String()}
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.AddHook(&dropHook{n: &b.dropped}, nil); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.AddListener(listeners.NewNet("mm2-sim", ln)); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	return b, nil
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return b.addr }

// URL is the broker's address for an MQTT client.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Dropped is how many messages the broker dropped instead of delivering
// them to a subscriber (a slow or absent client over its queue limits).
func (b *Broker) Dropped() uint64 { return b.dropped.Load() }

// Close stops the broker.
func (b *Broker) Close() error { return b.srv.Close() }

type dropHook struct {
	mqtt.HookBase
	n *atomic.Uint64
}

func (h *dropHook) ID() string { return "mm2-sim-drops" }

func (h *dropHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnPublishDropped}, []byte{b})
}

func (h *dropHook) OnPublishDropped(*mqtt.Client, packets.Packet) { h.n.Add(1) }
