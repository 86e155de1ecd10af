package uplink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/mm2go/mm2"
)

// broker is a real Mosquitto on a free loopback port, with persistence so
// that a restart keeps the subscriber's session and its queued messages.
type broker struct {
	t    *testing.T
	bin  string
	conf string
	addr string
	log  *bytes.Buffer

	mu  sync.Mutex
	cmd *exec.Cmd
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Skip("mosquitto is not installed (scripts/test.sh installs the Debian package); skipping the broker tests")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n"+
		"max_queued_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\n", port, dir)
	if os.Geteuid() == 0 {
		conf += "user root\n" // stay able to write the persistence file in our temp dir
	}
	b := &broker{t: t, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"),
		addr: fmt.Sprintf("127.0.0.1:%d", port), log: &bytes.Buffer{}}
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", b.log.String())
		}
	})
	return b
}

func (b *broker) url() string { return "tcp://" + b.addr }

// start runs the broker and waits until it accepts connections.
func (b *broker) start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	b.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.t.Errorf("mosquitto does not accept connections on %s: %v\n%s", b.addr, err, b.log.String())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the broker gracefully (it saves its persistence file on SIGTERM).
func (b *broker) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	// Errors here mean the broker has already exited, which is the goal.
	_ = b.cmd.Process.Signal(syscall.SIGCONT)
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
	b.cmd = nil
}

func (b *broker) signal(sig os.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		if err := b.cmd.Process.Signal(sig); err != nil {
			panic(fmt.Sprintf("signal the broker: %v", err))
		}
	}
}

// cloud is the subscriber side: a persistent session at QoS 1 that decodes
// every payload into a ledger.
func subscribe(t *testing.T, b *broker, device string, l *ledger) mqtt.Client {
	t.Helper()
	topic := DefaultTopicPrefix + "/" + device + "/#"
	opts := mqtt.NewClientOptions().AddBroker(b.url()).SetClientID("cloud-" + device).
		SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(500 * time.Millisecond).
		SetConnectTimeout(2 * time.Second).SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) {
			d, err := Decode(msg.Payload())
			if err != nil {
				t.Errorf("topic %s: %v", msg.Topic(), err)
				return
			}
			if want := Topic(DefaultTopicPrefix, device, d.Source); msg.Topic() != want {
				t.Errorf("batch of %v on topic %s, want %s", d.Source, msg.Topic(), want)
			}
			l.deliver(&d, msg.Duplicate())
		})
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	if tok := c.Subscribe(topic, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func newMQTT(t *testing.T, b *broker, device string) *MQTT {
	t.Helper()
	s, err := NewMQTT(MQTTConfig{Broker: b.url(), Device: device, ConnectTimeout: time.Second,
		MinReconnect: 20 * time.Millisecond, MaxReconnect: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// The acceptance test of the uplink: writers on four sources, the uplink
// publishing to a real broker, a subscriber checking every record, and the
// broker restarted twice while batches are in flight.
func TestMQTTEveryRecordArrivesThroughBrokerRestarts(t *testing.T) {
	br := startBroker(t)
	const device = "truck-7"
	l := newLedger()
	subscribe(t, br, device, l)
	ms := newMQTT(t, br, device)

	m := openManager(t)
	f := newFeed(t, m)
	var calls atomic.Int64
	var restarts sync.WaitGroup
	restartAt := map[int64]bool{15: true, 45: true}
	var acked, nacked atomic.Int64
	cfg := Config{
		MaxBytes: 256, Timeout: time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
		Poll: 5 * time.Millisecond, MaxInFlight: 2,
		OnResult: func(b *Batch, err error) {
			if err != nil {
				nacked.Add(1)
				l.fail(b)
				return
			}
			acked.Add(1)
		},
	}
	sender := SenderFunc(func(ctx context.Context, b *Batch) error {
		if restartAt[calls.Add(1)] {
			// Restart the broker while this batch is being published.
			restarts.Go(func() {
				br.stop()
				time.Sleep(200 * time.Millisecond)
				br.start()
			})
		}
		return ms.Send(ctx, b)
	})
	u, err := New(m, sender, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := runUplink(t, u)
	var wg sync.WaitGroup
	for src := range mm2.Source(4) {
		wg.Go(func() {
			for round := range 30 {
				for sensor := range uint32(3) {
					f.write(mm2.StreamID{Source: src, Sensor: sensor}, 10)
				}
				if round%5 == 0 {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "every record ACKed", func() bool { return allAcked(m) })
	restarts.Wait()
	written := f.snapshot()
	waitFor(t, "every record at the subscriber", func() bool {
		for id, n := range written {
			if l.received(id) < n {
				return false
			}
		}
		return true
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	dups := l.check(t, written)
	st := u.Stats()
	t.Logf("%d batches (%d ACKed, %d NACKed, %d timeouts), %d records sent for %d written, %d duplicates at the subscriber",
		st.Total.Batches, st.Total.Acks, st.Total.Nacks, st.Total.Timeouts, st.Total.Records, 4*3*300, dups)
	if calls.Load() < 46 {
		t.Errorf("only %d sends: the broker restarts did not happen mid-run", calls.Load())
	}
	if st.Total.Acks != uint64(acked.Load()) || st.Total.Nacks != uint64(nacked.Load()) {
		t.Errorf("stats %+v disagree with the results seen", st.Total)
	}
}

// A timeout is a failure, never an ACK: with the broker frozen (SIGSTOP) the
// connection stays open but no PUBACK comes, and Send must fail at its deadline.
func TestMQTTMissingPubAckIsAFailure(t *testing.T) {
	br := startBroker(t)
	ms := newMQTT(t, br, "van-1")
	b := &Batch{Source: mm2.BLE, ID: 1, Runs: []Run{{Sensor: 1, Kind: mm2.EVT, Samples: []mm2.Sample{{Value: 1, UTCms: 2, Seq: 1}}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := ms.Send(ctx, b); err != nil {
		t.Fatalf("Send to a live broker: %v", err)
	}
	cancel()
	br.signal(syscall.SIGSTOP)
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := ms.Send(ctx, b)
	br.signal(syscall.SIGCONT)
	if err == nil {
		t.Fatal("Send returned nil without a PUBACK")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v past a 300ms deadline", d)
	}
}

func TestMQTTSendFailsFastWhileDisconnected(t *testing.T) {
	br := startBroker(t)
	ms := newMQTT(t, br, "van-2")
	br.stop()
	waitFor(t, "the client to notice", func() bool { return !ms.Connected() })
	b := &Batch{Source: mm2.Gateway, ID: 1, Runs: []Run{{Sensor: 1, Kind: mm2.TSD, Samples: []mm2.Sample{{Seq: 1}}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ms.Send(ctx, b); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Send while the broker is down: %v, want ErrNotConnected", err)
	}
	br.start()
	if err := ms.WaitConnected(ctx); err != nil {
		t.Fatalf("no reconnect after the broker came back: %v", err)
	}
	if err := ms.Send(ctx, b); err != nil {
		t.Fatalf("Send after reconnecting: %v", err)
	}
}

func TestMQTTConfigIsValidated(t *testing.T) {
	for _, c := range []MQTTConfig{{Device: "x"}, {Broker: "tcp://127.0.0.1:1"}, {Broker: "tcp://127.0.0.1:1", Device: "a/b"}} {
		if _, err := NewMQTT(c); !errors.Is(err, mm2.ErrInvalidArgument) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if got := Topic("mm2", "bus-3", mm2.Source(6)); got != "mm2/bus-3/source6" {
		t.Errorf("Topic = %q", got)
	}
	if !strings.HasSuffix(Topic("p", "d", mm2.CAN), "/can") {
		t.Error("CAN topic")
	}
}
