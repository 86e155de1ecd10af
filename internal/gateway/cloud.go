package gateway

import (
	"errors"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/uplink"
)

// Checker is the cloud side: it decodes every payload (uplink.Decode),
// checks every record against the signal model, and keeps, per stream, the
// set of sequence numbers delivered and how many arrived more than once.
type Checker struct {
	from, to int64 // the simulated time range a record's UTC must be in

	mu      sync.Mutex
	streams map[mm2.StreamID]*Received
	stats   CheckerStats
	client  paho.Client
}

// Received is what the cloud got of one stream.
type Received struct {
	Seqs       SeqSet // unique sequence numbers delivered
	Duplicates uint64 // records that arrived again (same sequence number)
	Reordered  uint64 // first arrivals below a number already delivered
	BadValue   uint64 // records whose value or time the model does not give
}

// CheckerStats are the checker's totals.
type CheckerStats struct {
	Messages    uint64 `json:"messages"`     // payloads received
	Bytes       uint64 `json:"bytes"`        // bytes of those payloads
	Records     uint64 `json:"records"`      // records in them, duplicates included
	Unique      uint64 `json:"unique"`       // records delivered for the first time
	BadPayloads uint64 `json:"bad_payloads"` // payloads Decode refused
	BadValues   uint64 `json:"bad_values"`   // records whose value or time the signal model does not allow
	Reordered   uint64 `json:"reordered"`    // records that arrived below a sequence number already delivered
	FirstError  string `json:"first_error"`  // the first bad payload or record, for the report; "" when none
}

// NewChecker returns a checker accepting record times in [from, to] (ms).
func NewChecker(from, to int64) *Checker {
	return &Checker{from: from, to: to, streams: map[mm2.StreamID]*Received{}}
}

func (c *Checker) note(err error) {
	if c.stats.FirstError == "" {
		c.stats.FirstError = err.Error()
	}
}

// Handle checks one payload.
func (c *Checker) Handle(payload []byte) {
	b, err := uplink.Decode(payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Messages++
	c.stats.Bytes += uint64(len(payload))
	if err != nil {
		c.stats.BadPayloads++
		c.note(err)
		return
	}
	for i, run := range b.Runs {
		id := b.Stream(i)
		r := c.streams[id]
		if r == nil {
			r = &Received{}
			c.streams[id] = r
		}
		n := uint64(len(run.Samples))
		c.stats.Records += n
		for k, s := range run.Samples {
			if s.Seq != run.Samples[0].Seq+uint64(k) {
				r.BadValue++
				c.stats.BadValues++
				c.note(fmt.Errorf("%v: sequence %d in a run starting at %d", id, s.Seq, run.Samples[0].Seq))
				continue
			}
			if s.UTCms < c.from || s.UTCms > c.to || s.Value != Expected(id, s.UTCms) {
				r.BadValue++
				c.stats.BadValues++
				c.note(fmt.Errorf("%v seq %d: value %#x at %d ms, the model gives %#x", id, s.Seq, s.Value, s.UTCms, Expected(id, s.UTCms)))
			}
		}
		if n == 0 {
			continue
		}
		first, last := run.Samples[0].Seq, run.Samples[0].Seq+n-1
		top := r.Seqs.Max()
		already := r.Seqs.Add(first, last)
		r.Duplicates += already
		c.stats.Unique += n - already
		if first <= top {
			below := min(last, top) - first + 1
			if below > already {
				r.Reordered += below - already
				c.stats.Reordered += below - already
			}
		}
	}
}

// Stats returns the totals.
func (c *Checker) Stats() CheckerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Received returns a copy of what the cloud got of id (zero if nothing).
func (c *Checker) Received(id mm2.StreamID) Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.streams[id]
	if r == nil {
		return Received{}
	}
	out := *r
	out.Seqs = SeqSet{s: append([]span(nil), r.Seqs.s...)}
	return out
}

// Streams lists every stream the cloud received records of.
func (c *Checker) Streams() []mm2.StreamID {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]mm2.StreamID, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	return ids
}

// Subscribe connects the checker to a broker as an MQTT subscriber of every
// source topic of device: QoS 1 on a persistent session (the broker keeps
// its messages while the subscriber is away).
func (c *Checker) Subscribe(broker, prefix, device, clientID string) error {
	topic := prefix + "/" + device + "/+"
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID(clientID).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(time.Second).
		SetOrderMatters(true).SetKeepAlive(30 * time.Second)
	handler := func(_ paho.Client, msg paho.Message) { c.Handle(msg.Payload()) }
	opts.SetOnConnectHandler(func(cl paho.Client) {
		cl.Subscribe(topic, 1, handler) // on every (re)connect; the broker may have lost the session
	})
	cl := paho.NewClient(opts)
	tok := cl.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		cl.Disconnect(0)
		return errors.New("cloud subscriber: no connection to the broker within 10 s")
	}
	if err := tok.Error(); err != nil {
		cl.Disconnect(0)
		return fmt.Errorf("cloud subscriber: %w", err)
	}
	st := cl.Subscribe(topic, 1, handler)
	if !st.WaitTimeout(10*time.Second) || st.Error() != nil {
		cl.Disconnect(0)
		return fmt.Errorf("cloud subscriber: subscribe %s: %v", topic, st.Error())
	}
	c.mu.Lock()
	c.client = cl
	c.mu.Unlock()
	return nil
}

// Close disconnects the subscriber and clears its session on the broker.
func (c *Checker) Close(broker, clientID string) {
	c.mu.Lock()
	cl := c.client
	c.client = nil
	c.mu.Unlock()
	if cl == nil {
		return
	}
	cl.Disconnect(100)
	// A clean-session connection discards what the broker kept for us.
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetCleanSession(true).
		SetConnectTimeout(2 * time.Second)
	cleaner := paho.NewClient(opts)
	if tok := cleaner.Connect(); tok.WaitTimeout(2*time.Second) && tok.Error() == nil {
		cleaner.Disconnect(0)
	}
}
