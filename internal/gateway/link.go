package gateway

import (
	"errors"
	"io"
	"net"
	"sync"
)

// Link is the gateway's cellular link to the broker: a TCP relay on a
// loopback port that forwards to the broker while it is up. Down cuts every
// connection at once and refuses new ones (they are accepted and closed at
// once, like a modem with no network), so the MQTT sender sees a lost
// connection, publishes fail, and it reconnects by itself when Up is called.
type Link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	cuts  int
	wg    sync.WaitGroup
}

// NewLink listens on a free 127.0.0.1 port and relays to target (host:port).
func NewLink(target string) (*Link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &Link{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// Addr is the address the gateway connects to.
func (l *Link) Addr() string { return l.ln.Addr().String() }

// Down cuts the link.
func (l *Link) Down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return
	}
	l.down = true
	l.cuts++
	for c := range l.conns {
		c.Close()
	}
}

// Up restores the link.
func (l *Link) Up() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = false
}

// IsDown reports whether the link is cut.
func (l *Link) IsDown() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.down
}

// Close stops the relay and closes every connection.
func (l *Link) Close() error {
	err := l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (l *Link) add(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Link) remove(cs ...net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cs {
		delete(l.conns, c)
		c.Close()
	}
}

func (l *Link) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !l.add(c) {
			c.Close()
			continue
		}
		l.wg.Add(1)
		go l.relay(c)
	}
}

func (l *Link) relay(c net.Conn) {
	defer l.wg.Done()
	b, err := net.Dial("tcp", l.target)
	if err != nil {
		l.remove(c)
		return
	}
	if !l.add(b) {
		l.remove(c, b)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		l.remove(dst, src)
	}
	go pipe(b, c)
	go pipe(c, b)
	wg.Wait()
}
