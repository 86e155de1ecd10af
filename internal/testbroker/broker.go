// Package testbroker runs a real Mosquitto for tests: a plain listener and a
// TLS listener that demands a client certificate and a user name and
// password, with a CA and certificates made for the test. Tests skip when
// mosquitto is not installed (scripts/test.sh installs it).
package testbroker

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// User and Password are the credentials the TLS listener accepts.
const (
	User     = "gateway"
	Password = "s3cret-pw"
)

// Broker is a running mosquitto.
type Broker struct {
	Addr    string // plain MQTT, anonymous
	TLSAddr string // TLS, client certificate and password required
	Dir     string
	// PEM files made for the test: the CA, the client certificate and key
	// it signed, and a client certificate signed by another CA (refused).
	CAFile, CertFile, KeyFile, RogueCertFile, RogueKeyFile string

	t    testing.TB
	bin  string
	conf string
	mu   sync.Mutex
	cmd  *exec.Cmd
	log  bytes.Buffer
}

// Bin finds mosquitto or skips the test.
func Bin(t testing.TB) string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("mosquitto is not installed (scripts/test.sh installs the Debian package)")
	return ""
}

// FreePort returns a TCP port free at the time of the call.
func FreePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start runs a broker until the test ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	b := &Broker{t: t, bin: Bin(t), Dir: t.TempDir()}
	b.Addr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	b.TLSAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	b.makeCerts()
	pw := filepath.Join(b.Dir, "passwd")
	if out, err := exec.Command(passwdBin(), "-c", "-b", pw, User, Password).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	conf := fmt.Sprintf(`per_listener_settings true
persistence true
persistence_location %[1]s/
max_queued_messages 0
log_dest stderr
log_type error
log_type warning
listener %[2]s 127.0.0.1
allow_anonymous true
listener %[3]s 127.0.0.1
allow_anonymous false
password_file %[4]s
cafile %[5]s
certfile %[1]s/server.pem
keyfile %[1]s/server.key
require_certificate true
`, b.Dir, port(b.Addr), port(b.TLSAddr), pw, b.CAFile)
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	b.conf = filepath.Join(b.Dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", b.log.String())
		}
	})
	return b
}

func passwdBin() string {
	if p, err := exec.LookPath("mosquitto_passwd"); err == nil {
		return p
	}
	return "/usr/bin/mosquitto_passwd"
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// URL is the plain listener's URL (tcp://).
func (b *Broker) URL() string { return "tcp://" + b.Addr }

// TLSURL is the TLS listener's URL (ssl://).
func (b *Broker) TLSURL() string { return "ssl://" + b.TLSAddr }

// Restart starts the broker (again) and waits until both listeners accept.
func (b *Broker) Restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return
	}
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = &b.log, &b.log
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	b.cmd = cmd
	for _, addr := range []string{b.Addr, b.TLSAddr} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				b.t.Fatalf("mosquitto does not listen on %s: %v\n%s", addr, err, b.log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Stop ends the broker (SIGTERM: it saves its persistence file).
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.t.Errorf("stop mosquitto: %v", err)
	}
	done := make(chan struct{})
	go func() {
		if err := b.cmd.Wait(); err != nil {
			b.t.Logf("mosquitto: %v\n%s", err, b.log.String())
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill() // it may exit meanwhile; Wait above reports how it ended
		<-done
	}
	b.cmd = nil
}

// Certs are PEM files made for a test.
type Certs struct {
	CAFile, CertFile, KeyFile, RogueCertFile, RogueKeyFile string
}

// MakeCerts writes ca.pem, server.pem and server.key (for 127.0.0.1 and
// localhost), client.pem and client.key signed by the CA, and rogue.pem and
// rogue.key signed by another CA, into dir.
func MakeCerts(t testing.TB, dir string) Certs {
	b := &Broker{t: t, Dir: dir}
	b.makeCerts()
	return Certs{b.CAFile, b.CertFile, b.KeyFile, b.RogueCertFile, b.RogueKeyFile}
}

func (b *Broker) makeCerts() {
	ca, caKey := b.cert(nil, nil, "mm2 test CA", true)
	b.CAFile = b.write("ca.pem", ca, nil)
	srv, srvKey := b.cert(ca, caKey, "localhost", false)
	b.write("server.pem", srv, srvKey)
	cli, cliKey := b.cert(ca, caKey, "gateway-1", false)
	b.CertFile = b.write("client.pem", cli, nil)
	b.KeyFile = b.write("client.key", nil, cliKey)
	rogueCA, rogueKey := b.cert(nil, nil, "another CA", true)
	rc, rk := b.cert(rogueCA, rogueKey, "intruder", false)
	b.RogueCertFile = b.write("rogue.pem", rc, nil)
	b.RogueKeyFile = b.write("rogue.key", nil, rk)
}

var serial atomic.Int64

func (b *Broker) cert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.DNSNames, tmpl.IPAddresses, tmpl.ExtKeyUsage = nil, nil, nil
	}
	signer, signKey := parent, parentKey
	if parent == nil {
		signer, signKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		b.t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		b.t.Fatal(err)
	}
	return c, key
}

// write stores cert and/or key as PEM in one file and returns its path.
func (b *Broker) write(name string, c *x509.Certificate, key *ecdsa.PrivateKey) string {
	var buf bytes.Buffer
	if c != nil {
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			b.t.Fatal(err)
		}
	}
	if key != nil {
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			b.t.Fatal(err)
		}
		if c == nil {
			if err := pem.Encode(&buf, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}); err != nil {
				b.t.Fatal(err)
			}
		} else {
			keyFile := filepath.Join(b.Dir, name[:len(name)-4]+".key")
			if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	p := filepath.Join(b.Dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		b.t.Fatal(err)
	}
	return p
}
