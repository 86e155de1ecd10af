package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// shutdownSignals are the signals that ask a long-running command to stop:
// a service manager's stop (SIGTERM) and Ctrl-C (SIGINT).
var shutdownSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT}

// signalContext returns a context that is cancelled on the first SIGTERM
// or SIGINT, for long-running commands: they see ctx done, power the store
// down within its deadline (mm2.Manager.PowerDown) and exit 0, so the data
// is there on the next start. onSignal, if not nil, is called with the
// signal first (e.g. to say what is happening). After the first signal the
// default action is restored, so a second one ends the process at once.
// stop releases the signal handler; call it when the command returns.
func signalContext(parent context.Context, onSignal func(os.Signal)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, shutdownSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			if onSignal != nil {
				onSignal(sig)
			}
			cancel()
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			cancel()
		})
	}
}
