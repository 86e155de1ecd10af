package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mm2go/mm2/internal/sink"
	"github.com/mm2go/mm2/metrics"
	"github.com/mm2go/mm2/uplink"
)

func runSink(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sink", stderr,
		"usage: mm2 sink [--broker URL] [--topic T] [--share GROUP] [-o FILE] [--report FILE] [flags]",
		"Subscribes to gateway payloads, writes each record once as a JSON line (the fields of mm2 decode,",
		"docs/json.md), drops duplicates by (stream, seq) and reports gaps per stream.",
		"Ctrl-C (SIGINT) or SIGTERM stops it: the per-stream summary goes to stderr, --report is written,",
		"and it exits 0 (a message being written is finished first; the broker sends unacknowledged ones",
		"again to the next sink of the session). A second signal ends the process at once.",
		"exit status: 0 stopped by a signal, 1 failed (broker refused, --out or --report not writable,",
		"--http address in use), 2 bad usage (also an unreadable --password-file or TLS file)")
	var o sink.Options
	fs.StringVar(&o.Broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker URL (tcp://, ssl://, ws://, wss://)")
	fs.StringVar(&o.Topic, "topic", uplink.DefaultTopicPrefix+"/+/+", "topic filter of the payloads (<prefix>/<device>/<source>)")
	fs.StringVar(&o.Share, "share", "", "shared subscription group: sinks of one group split the messages ($share/GROUP/topic)")
	fs.StringVar(&o.ClientID, "client-id", "", "MQTT client id; the broker keeps this sink's session under it (default mm2-sink-HOSTNAME)")
	fs.StringVar(&o.Username, "username", "", "MQTT user name")
	password := fs.String("password-file", "", "file holding the MQTT password")
	fs.BoolVar(&o.CleanSession, "clean-session", false, "start without the broker's kept session (what was sent meanwhile is not delivered)")
	var tf uplink.TLSFiles
	fs.StringVar(&tf.CAFile, "ca-file", "", "CA certificates (PEM) of the broker")
	fs.StringVar(&tf.CertFile, "cert-file", "", "client certificate (PEM)")
	fs.StringVar(&tf.KeyFile, "key-file", "", "client key (PEM)")
	out := fs.String("out", "-", "file to append JSON lines to (- = stdout)")
	values := fs.String("values", "raw", "how to write a value's 32 bits: raw (unsigned), float (float32) or int (int32)")
	httpAddr := fs.String("http", "", "serve Prometheus /metrics on this address (e.g. 127.0.0.1:9465)")
	report := fs.String("report", "", "at exit, write the per-stream report (records, first and max seq, missing) as JSON to this file (docs/json.md)")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	var err error
	if o.Values, err = sink.ParseValues(*values); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(stderr, "mm2 sink: %v\n", err)
		return exitUsage
	}
	if o.ClientID == "" {
		h, _ := os.Hostname()
		o.ClientID = "mm2-sink-" + h
	}
	if *password != "" {
		pw, err := os.ReadFile(*password)
		if err != nil {
			fmt.Fprintf(stderr, "mm2 sink: %v\n", err)
			return exitUsage
		}
		o.Password = string(trimNewline(pw))
	}
	if tf != (uplink.TLSFiles{}) {
		if o.TLS, err = tf.Config(); err != nil {
			fmt.Fprintf(stderr, "mm2 sink: %v\n", err)
			return exitUsage
		}
	}
	o.Out = stdout
	if *out != "-" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "mm2 sink: %v\n", err)
			return exitProblem
		}
		defer f.Close()
		o.Out = f
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, nil))
	s := sink.New(o)
	ctx, stop := signalContext(context.Background(), nil)
	defer stop()
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fmt.Fprintf(stderr, "mm2 sink: %v\n", err)
			return exitProblem
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(s)
		metrics.RegisterProcess(reg)
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintf(stderr, "mm2 sink: http: %v\n", err)
			}
		}()
		defer srv.Close()
	}
	runErr := s.Run(ctx)
	rep := s.Report()
	for _, r := range rep {
		if r.Missing > 0 {
			fmt.Fprintf(stderr, "mm2 sink: %s: %d records, seq %d..%d, %d missing\n", r.Stream, r.Records, r.First, r.Max, r.Missing)
		}
	}
	fmt.Fprintf(stderr, "mm2 sink: %d streams\n", len(rep))
	if *report != "" {
		if err := os.WriteFile(*report, reportJSON(rep), 0o644); err != nil {
			fmt.Fprintf(stderr, "mm2 sink: %v\n", err)
			return exitProblem
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "mm2 sink: %v\n", runErr)
		return exitProblem
	}
	return exitOK
}

// reportJSON is the --report file: the per-stream report as an indented
// JSON array ([] when no stream was seen), fields in docs/json.md.
func reportJSON(rep []sink.StreamReport) []byte {
	if rep == nil {
		rep = []sink.StreamReport{}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		panic(err) // a slice of plain structs always marshals
	}
	return append(b, '\n')
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
