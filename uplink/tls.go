package uplink

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSFiles names the PEM files of a TLS connection to a broker.
type TLSFiles struct {
	CAFile     string // CA certificates the broker's certificate must chain to; "" = the system pool
	CertFile   string // client certificate (with KeyFile), for brokers that authenticate devices by certificate
	KeyFile    string // the client certificate's private key
	ServerName string // expected name in the broker's certificate; "" = the broker URL's host
	// InsecureSkipVerify accepts any broker certificate. For tests on a
	// bench only: it makes the connection open to a man in the middle.
	InsecureSkipVerify bool
}

// Config loads the files and returns the TLS configuration (TLS 1.2 at
// least). CertFile and KeyFile go together: one without the other is an
// error, as is a CA file holding no certificate.
func (f TLSFiles) Config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName, InsecureSkipVerify: f.InsecureSkipVerify} //nolint:gosec // documented test switch
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("uplink: tls: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("uplink: tls: CA file %s holds no PEM certificate", f.CAFile)
		}
		c.RootCAs = pool
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, fmt.Errorf("uplink: tls: a client certificate needs both cert_file and key_file")
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("uplink: tls: client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Will is the MQTT last will: the broker publishes Payload on Topic when the
// connection drops without a clean disconnect. When Online is set it is
// published (same topic, QoS and retain flag) after every connection, and
// Payload by MQTT.Close before it disconnects, so a retained status reads
// Online exactly while the gateway is connected.
type Will struct {
	Topic   string
	Payload []byte
	Online  []byte
	QoS     byte
	Retain  bool
}
