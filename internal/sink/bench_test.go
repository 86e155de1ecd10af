package sink

import (
	"context"
	"io"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/testbroker"
	"github.com/mm2go/mm2/uplink"
)

// benchPayloads are n payloads of 8 streams × 128 records each, with
// consecutive sequence numbers per stream across payloads (what a gateway
// sends at the default batch size of 16 KB).
func benchPayloads(b *testing.B, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		batch := &uplink.Batch{Source: mm2.CAN, ID: uint64(i + 1)}
		for s := range 8 {
			run := uplink.Run{Sensor: uint32(s), Kind: mm2.EVT, Samples: make([]mm2.Sample, 128)}
			for j := range run.Samples {
				seq := uint64(i*128 + j + 1)
				run.Samples[j] = mm2.Sample{Value: uint32(seq * 7), UTCms: 1700000000000 + int64(seq)*10, Seq: seq}
			}
			batch.Runs = append(batch.Runs, run)
		}
		p, err := uplink.Encode(nil, batch)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = p
	}
	return out
}

// BenchmarkSinkHandle: decode, drop duplicates, write JSON lines (to
// io.Discard) — the work of one sink per message, without the broker.
func BenchmarkSinkHandle(b *testing.B) {
	ps := benchPayloads(b, b.N)
	s := New(Options{Out: io.Discard})
	b.ResetTimer()
	for i := range b.N {
		s.Handle("mm2/truck/can", ps[i])
	}
	b.ReportMetric(float64(b.N*8*128)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSinkThroughMosquitto: one sink subscribed at QoS 1 to a local
// Mosquitto while a publisher sends the payloads at QoS 1; records written
// a second, broker and publisher on the same machine.
func BenchmarkSinkThroughMosquitto(b *testing.B) {
	br := testbroker.Start(b)
	ps := benchPayloads(b, b.N)
	s := New(Options{Broker: br.URL(), ClientID: "bench-sink", Out: io.Discard, CleanSession: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	for !s.Subscribed() {
		time.Sleep(time.Millisecond)
	}
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(br.URL()).SetClientID("bench-pub"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	b.ResetTimer()
	var last mqtt.Token
	for i := range b.N {
		last = pub.Publish("mm2/truck/can", 1, false, ps[i])
		if i%64 == 63 {
			last.Wait()
		}
	}
	last.Wait()
	want := uint64(b.N * 8 * 128)
	for s.records.Load()+s.duplicates.Load() < want {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "records/s")
}
