// Package agent is mm2 run: a store fed by inputs and drained by the MQTT
// uplink, configured by one TOML file (docs/service.md), with /metrics and
// /healthz, SIGHUP reload and SIGTERM power-down.
package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/inputs"
	"github.com/mm2go/mm2/uplink"
)

// Config is the TOML file as written.
type Config struct {
	ShutdownTimeout string        `toml:"shutdown_timeout"` // SIGTERM to exit; default 10s
	LogLevel        string        `toml:"log_level"`        // debug, info (default), warn, error
	Store           StoreConfig   `toml:"store"`
	Uplink          *UplinkConfig `toml:"uplink"`
	HTTP            HTTPConfig    `toml:"http"`
	Inputs          InputsConfig  `toml:"inputs"`
}

// StoreConfig is [store].
type StoreConfig struct {
	Dir          string `toml:"dir"`           // "" = RAM only
	Profile      string `toml:"profile"`       // default linux
	Sync         string `toml:"sync"`          // power-down (default), always, or a duration ("1s")
	Overflow     string `toml:"overflow"`      // drop-oldest (default) or reject-new
	SpillPercent int    `toml:"spill_percent"` // 0 = 80
	DiskCapBytes int64  `toml:"disk_cap_bytes"`
	SegmentBytes int    `toml:"segment_bytes"`
	Tick         string `toml:"tick"` // Manager.Tick period; default 1s
}

// UplinkConfig is [uplink].
type UplinkConfig struct {
	Broker             string   `toml:"broker"`
	Device             string   `toml:"device"`
	TopicPrefix        string   `toml:"topic_prefix"`
	ClientID           string   `toml:"client_id"`
	Username           string   `toml:"username"`
	Password           string   `toml:"password"`
	PasswordFile       string   `toml:"password_file"`
	CAFile             string   `toml:"ca_file"`
	CertFile           string   `toml:"cert_file"`
	KeyFile            string   `toml:"key_file"`
	ServerName         string   `toml:"server_name"`
	InsecureSkipVerify bool     `toml:"insecure_skip_verify"`
	Will               *bool    `toml:"will"` // default true
	WillTopic          string   `toml:"will_topic"`
	WillPayload        string   `toml:"will_payload"`
	OnlinePayload      string   `toml:"online_payload"`
	KeepAlive          string   `toml:"keep_alive"`
	ConnectTimeout     string   `toml:"connect_timeout"`
	MinReconnect       string   `toml:"min_reconnect"`
	MaxReconnect       string   `toml:"max_reconnect"`
	Timeout            string   `toml:"timeout"`
	MinBackoff         string   `toml:"min_backoff"`
	MaxBackoff         string   `toml:"max_backoff"`
	MaxBytes           int      `toml:"max_bytes"`
	MaxRecords         int      `toml:"max_records"`
	MaxInFlight        int      `toml:"max_in_flight"`
	Poll               string   `toml:"poll"`
	Sources            []string `toml:"sources"`
}

// HTTPConfig is [http].
type HTTPConfig struct {
	Listen string `toml:"listen"` // "" = no HTTP server
}

// InputsConfig is [inputs]: arrays of tables, one per input.
type InputsConfig struct {
	CAN          []inputs.CANConfig          `toml:"can"`
	GPSD         []inputs.GPSDConfig         `toml:"gpsd"`
	Host         []inputs.HostConfig         `toml:"host"`
	LineProtocol []inputs.LineProtocolConfig `toml:"line_protocol"`
}

// Plan is a validated configuration, ready to run.
type Plan struct {
	Config          Config
	Store           mm2.Options
	Tick            time.Duration
	ShutdownTimeout time.Duration
	LogLevel        string
	Uplink          *UplinkPlan // nil = no uplink
	HTTPListen      string
	Inputs          []PlannedInput
}

// PlannedInput is one input and the TOML of its table, which tells on a
// reload whether it changed.
type PlannedInput struct {
	Key   string // e.g. inputs.can[0]
	Ident string // the table re-encoded: equal idents = unchanged input
	Input inputs.Input
}

// UplinkPlan is the uplink part of a Plan.
type UplinkPlan struct {
	MQTT   uplink.MQTTConfig
	Uplink uplink.Config
	Ident  string
}

// ConfigError is a refused configuration: the file, the line (0 when
// unknown), the key and the reason.
type ConfigError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// Load reads and validates the file at path.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates a configuration; name is used in errors.
func Parse(name string, data []byte) (*Plan, error) {
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ConfigError{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		// Type mismatches come as "toml: line N (last key "K"): reason".
		if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &ConfigError{File: name, Line: line, Key: m[2], Msg: m[3]}
		}
		return nil, &ConfigError{File: name, Msg: err.Error()}
	}
	lines := keyLines(data)
	fail := func(key, format string, a ...any) (*Plan, error) {
		return nil, &ConfigError{File: name, Line: lineOf(lines, key), Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		line := lineOf(lines, k)
		if line == 0 {
			line = lineOfUnindexed(lines, k)
		}
		return nil, &ConfigError{File: name, Line: line, Key: k, Msg: "unknown key (see docs/service.md)"}
	}
	p := &Plan{Config: c, HTTPListen: c.HTTP.Listen}
	var fe *inputs.FieldError
	if p.ShutdownTimeout, fe = inputs.ParseDuration("shutdown_timeout", c.ShutdownTimeout, 10*time.Second); fe != nil {
		return fail(fe.Key, "%s", fe.Msg)
	}
	switch c.LogLevel {
	case "", "info", "debug", "warn", "error":
		p.LogLevel = c.LogLevel
	default:
		return fail("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if err := planStore(p, &c.Store); err != nil {
		return fail("store."+err.Key, "%s", err.Msg)
	}
	if c.Uplink != nil {
		up, err := planUplink(c.Uplink)
		if err != nil {
			return fail("uplink."+err.Key, "%s", err.Msg)
		}
		p.Uplink = up
	}
	add := func(kind string, i int, table any, in inputs.Input, err error) error {
		key := fmt.Sprintf("inputs.%s[%d]", kind, i)
		if err != nil {
			var fe *inputs.FieldError
			if errors.As(err, &fe) {
				_, e := fail(key+"."+fe.Key, "%s", fe.Msg)
				return e
			}
			_, e := fail(key, "%v", err)
			return e
		}
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(table); err != nil {
			return err
		}
		p.Inputs = append(p.Inputs, PlannedInput{Key: key, Ident: kind + "\n" + b.String(), Input: in})
		return nil
	}
	for i, t := range c.Inputs.CAN {
		in, err := inputs.NewCAN(t)
		if err := add("can", i, t, in, err); err != nil {
			return nil, err
		}
	}
	for i, t := range c.Inputs.GPSD {
		in, err := inputs.NewGPSD(t)
		if err := add("gpsd", i, t, in, err); err != nil {
			return nil, err
		}
	}
	for i, t := range c.Inputs.Host {
		in, err := inputs.NewHost(t)
		if err := add("host", i, t, in, err); err != nil {
			return nil, err
		}
	}
	for i, t := range c.Inputs.LineProtocol {
		in, err := inputs.NewLineProtocol(t)
		if err := add("line_protocol", i, t, in, err); err != nil {
			return nil, err
		}
	}
	// Names label metrics and logs: one name, one input.
	named := map[string]string{}
	for _, pi := range p.Inputs {
		if o, dup := named[pi.Input.Name()]; dup {
			return fail(pi.Key+".name", "%q is also the name of %s; give each input its own name", pi.Input.Name(), o)
		}
		named[pi.Input.Name()] = pi.Key
	}
	// Two inputs must not write one stream: their records would interleave
	// under one sequence, and a kind or period clash would stop one input.
	owner := map[mm2.StreamID]string{}
	total := 0
	for _, pi := range p.Inputs {
		for _, s := range pi.Input.Streams() {
			if o, dup := owner[s.ID]; dup {
				if o == pi.Key {
					return fail(pi.Key, "writes stream %v twice", s.ID)
				}
				return fail(pi.Key, "writes stream %v, which %s writes too", s.ID, o)
			}
			owner[s.ID] = pi.Key
			total++
		}
	}
	if total > p.Store.Profile.MaxStreams {
		return fail("inputs", "%d streams; profile %s holds at most %d", total, p.Store.Profile.Name, p.Store.Profile.MaxStreams)
	}
	return p, nil
}

func planStore(p *Plan, c *StoreConfig) *inputs.FieldError {
	o := mm2.Options{Dir: c.Dir, SpillPercent: c.SpillPercent, DiskCapBytes: c.DiskCapBytes, SegmentBytes: c.SegmentBytes}
	bad := func(key, format string, a ...any) *inputs.FieldError {
		return &inputs.FieldError{Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	name := c.Profile
	if name == "" {
		name = "linux"
	}
	prof, err := mm2.ProfileByName(name)
	if err != nil {
		return bad("profile", "%v", err)
	}
	o.Profile = prof
	switch c.Sync {
	case "", "power-down":
		o.Sync = mm2.SyncOnPowerDown()
	case "always":
		o.Sync = mm2.SyncAlways()
	default:
		d, err := time.ParseDuration(c.Sync)
		if err != nil || d <= 0 {
			return bad("sync", "%q: want power-down, always or an interval such as \"1s\"", c.Sync)
		}
		o.Sync = mm2.SyncInterval(d)
	}
	switch c.Overflow {
	case "", "drop-oldest":
		o.Overflow = mm2.DropOldest
	case "reject-new":
		o.Overflow = mm2.RejectNew
	default:
		return bad("overflow", "%q: want drop-oldest or reject-new", c.Overflow)
	}
	if o.Dir != "" && !prof.DiskTier {
		return bad("dir", "profile %s has no disk tier; leave dir empty (RAM only)", prof.Name)
	}
	// The options are checked the way Open checks them, on a RAM-only
	// manager: --check must not create or touch the store's directory.
	probe := o
	probe.Dir = ""
	m, err := mm2.Open(probe)
	if err != nil {
		return bad(optionKey(err), "%v", err)
	}
	m.Close()
	var fe *inputs.FieldError
	if p.Tick, fe = inputs.ParseDuration("tick", c.Tick, time.Second); fe != nil {
		return fe
	}
	p.Store = o
	return nil
}

// optionKey names the [store] key an Open error is about.
func optionKey(err error) string {
	msg := err.Error()
	for _, k := range [][2]string{
		{"spill percent", "spill_percent"}, {"disk cap", "disk_cap_bytes"},
		{"segment size", "segment_bytes"}, {"sync policy", "sync"}, {"overflow", "overflow"},
	} {
		if strings.Contains(msg, k[0]) {
			return k[1]
		}
	}
	return "profile"
}

func planUplink(c *UplinkConfig) (*UplinkPlan, *inputs.FieldError) {
	bad := func(key, format string, a ...any) *inputs.FieldError {
		return &inputs.FieldError{Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return nil, bad("broker", "%v", err)
	}
	up := &UplinkPlan{Ident: b.String()}
	if c.Broker == "" {
		return nil, bad("broker", "the uplink needs a broker URL, e.g. \"ssl://broker.example.com:8883\"")
	}
	scheme, _, ok := strings.Cut(c.Broker, "://")
	if !ok {
		return nil, bad("broker", "%q: want SCHEME://HOST:PORT (tcp, ssl, tls, ws, wss)", c.Broker)
	}
	switch scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return nil, bad("broker", "scheme %q: want tcp, mqtt, ssl, tls, mqtts, ws or wss", scheme)
	}
	if c.Device == "" || strings.ContainsAny(c.Device, "/+#") {
		return nil, bad("device", "%q: the uplink needs a device name without / + #", c.Device)
	}
	m := uplink.MQTTConfig{Broker: c.Broker, Device: c.Device, TopicPrefix: c.TopicPrefix, ClientID: c.ClientID,
		Username: c.Username, Password: c.Password}
	if c.PasswordFile != "" {
		if c.Password != "" {
			return nil, bad("password_file", "set password or password_file, not both")
		}
		pw, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, bad("password_file", "%v", err)
		}
		m.Password = strings.TrimRight(string(pw), "\r\n")
	}
	if (m.Password != "") && m.Username == "" {
		return nil, bad("username", "a password needs a username")
	}
	tlsWanted := scheme == "ssl" || scheme == "tls" || scheme == "mqtts" || scheme == "wss"
	if !tlsWanted && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.InsecureSkipVerify) {
		return nil, bad("broker", "TLS files are set but %q is not a TLS scheme (ssl://, tls://, mqtts://, wss://)", c.Broker)
	}
	if tlsWanted {
		tc, err := uplink.TLSFiles{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile,
			ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify}.Config()
		if err != nil {
			key := "ca_file"
			if strings.Contains(err.Error(), "client certificate") {
				key = "cert_file"
			}
			return nil, bad(key, "%v", err)
		}
		m.TLS = tc
	}
	if c.Will == nil || *c.Will {
		prefix := c.TopicPrefix
		if prefix == "" {
			prefix = uplink.DefaultTopicPrefix
		}
		w := &uplink.Will{Topic: c.WillTopic, Payload: []byte(c.WillPayload), Online: []byte(c.OnlinePayload), QoS: 1, Retain: true}
		if w.Topic == "" {
			w.Topic = prefix + "/" + c.Device + "/status"
		}
		if strings.ContainsAny(w.Topic, "+#") {
			return nil, bad("will_topic", "%q: a topic to publish to has no wildcards", w.Topic)
		}
		if c.WillPayload == "" {
			w.Payload = []byte("offline")
		}
		if c.OnlinePayload == "" {
			w.Online = []byte("online")
		}
		m.Will = w
	}
	var fe *inputs.FieldError
	durs := []struct {
		key string
		s   string
		dst *time.Duration
	}{
		{"keep_alive", c.KeepAlive, &m.KeepAlive}, {"connect_timeout", c.ConnectTimeout, &m.ConnectTimeout},
		{"min_reconnect", c.MinReconnect, &m.MinReconnect}, {"max_reconnect", c.MaxReconnect, &m.MaxReconnect},
		{"timeout", c.Timeout, &up.Uplink.Timeout}, {"min_backoff", c.MinBackoff, &up.Uplink.MinBackoff},
		{"max_backoff", c.MaxBackoff, &up.Uplink.MaxBackoff}, {"poll", c.Poll, &up.Uplink.Poll},
	}
	for _, d := range durs {
		if *d.dst, fe = inputs.ParseDuration(d.key, d.s, 0); fe != nil {
			return nil, fe
		}
	}
	m.PublishTimeout = up.Uplink.Timeout
	up.Uplink.MaxBytes, up.Uplink.MaxRecords, up.Uplink.MaxInFlight = c.MaxBytes, c.MaxRecords, c.MaxInFlight
	for i, s := range c.Sources {
		src, err := inputs.ParseSource(s, 0)
		if err != nil || s == "" {
			return nil, bad(fmt.Sprintf("sources[%d]", i), "%v", err)
		}
		up.Uplink.Sources = append(up.Uplink.Sources, src)
	}
	if c.Sources != nil && len(c.Sources) == 0 {
		return nil, bad("sources", "an empty list serves no source; leave it out to serve all")
	}
	probe, err := mm2.Open(mm2.Options{})
	if err != nil {
		return nil, bad("broker", "%v", err)
	}
	defer probe.Close()
	noSend := uplink.SenderFunc(func(context.Context, *uplink.Batch) error { return nil })
	if _, err := uplink.New(probe, noSend, up.Uplink); err != nil {
		return nil, bad(uplinkKey(err), "%v", err)
	}
	up.MQTT = m
	return up, nil
}

// uplinkKey names the [uplink] key an uplink.New error is about.
func uplinkKey(err error) string {
	msg := err.Error()
	for _, k := range [][2]string{
		{"MaxBytes", "max_bytes"}, {"MaxRecords", "max_records"}, {"MaxBackoff", "max_backoff"},
		{"MaxInFlight", "max_in_flight"}, {"source", "sources"},
	} {
		if strings.Contains(msg, k[0]) {
			return k[1]
		}
	}
	return "timeout"
}
