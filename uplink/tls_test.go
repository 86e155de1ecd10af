package uplink

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/testbroker"
)

// syncBuffer is a log destination safe for the MQTT client's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// watchTopic connects a plain-listener client to topic and returns what
// arrives on it.
func watchTopic(t *testing.T, url, topic string) <-chan string {
	t.Helper()
	ch := make(chan string, 64)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("watch-" + strings.ReplaceAll(t.Name(), "/", "-")))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	tok := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- m.Topic() + " " + string(m.Payload()) })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return ch
}

func expect(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("no message %q within 10 s", want)
		}
	}
}

// A gateway with a client certificate and a password publishes over TLS;
// the will topic says online while it is connected and offline after it
// stops.
func TestMQTTOverTLSWithClientCertificatePasswordAndWill(t *testing.T) {
	b := testbroker.Start(t)
	status := watchTopic(t, b.URL(), "mm2/gw-tls/#")
	tc, err := TLSFiles{CAFile: b.CAFile, CertFile: b.CertFile, KeyFile: b.KeyFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	will := &Will{Topic: "mm2/gw-tls/status", Payload: []byte("offline"), Online: []byte("online"), QoS: 1, Retain: true}
	s, err := NewMQTT(MQTTConfig{Broker: b.TLSURL(), Device: "gw-tls", Username: testbroker.User,
		Password: testbroker.Password, TLS: tc, Will: will, MinReconnect: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitConnected(ctx); err != nil {
		s.Close()
		t.Fatal(err)
	}
	expect(t, status, "mm2/gw-tls/status online")
	batch := &Batch{Source: mm2.CAN, ID: 7, Runs: []Run{{Sensor: 3, Kind: mm2.EVT,
		Samples: []mm2.Sample{{Value: 42, UTCms: 1000, Seq: 1}, {Value: 43, UTCms: 1010, Seq: 2}}}}}
	if err := s.Send(ctx, batch); err != nil {
		s.Close()
		t.Fatalf("send over TLS: %v", err)
	}
	payload, _ := Encode(nil, batch)
	expect(t, status, "mm2/gw-tls/can "+string(payload))
	s.Close()
	expect(t, status, "mm2/gw-tls/status offline")
}

// The TLS listener refuses a wrong password, a certificate of another CA
// and a client without a certificate; the sender reports each as a failed
// connection and never connects.
func TestMQTTOverTLSRefusals(t *testing.T) {
	b := testbroker.Start(t)
	cases := []struct {
		name      string
		files     TLSFiles
		user, pwd string
	}{
		{"wrong password", TLSFiles{CAFile: b.CAFile, CertFile: b.CertFile, KeyFile: b.KeyFile}, testbroker.User, "nope"},
		{"certificate of another CA", TLSFiles{CAFile: b.CAFile, CertFile: b.RogueCertFile, KeyFile: b.RogueKeyFile}, testbroker.User, testbroker.Password},
		{"no client certificate", TLSFiles{CAFile: b.CAFile}, testbroker.User, testbroker.Password},
		{"broker certificate not trusted", TLSFiles{CertFile: b.CertFile, KeyFile: b.KeyFile}, testbroker.User, testbroker.Password},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tc, err := c.files.Config()
			if err != nil {
				t.Fatal(err)
			}
			var log syncBuffer
			s, err := NewMQTT(MQTTConfig{Broker: b.TLSURL(), Device: "gw-bad", Username: c.user, Password: c.pwd, TLS: tc,
				MinReconnect: time.Hour, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			waitFor(t, "a failed connection attempt", func() bool { return strings.Contains(log.String(), "connect failed") })
			if s.Connected() {
				t.Fatalf("connected although refused")
			}
		})
	}
}

func TestTLSFilesAreChecked(t *testing.T) {
	b := testbroker.Start(t)
	for name, f := range map[string]TLSFiles{
		"missing CA":          {CAFile: b.Dir + "/none.pem"},
		"CA file without PEM": {CAFile: b.Dir + "/mosquitto.conf"},
		"cert without key":    {CertFile: b.CertFile},
		"key of another cert": {CertFile: b.CertFile, KeyFile: b.RogueKeyFile},
	} {
		if _, err := f.Config(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
