// Package testcerts makes a throwaway certificate authority for tests that run
// servers with TLS: one CA, a server certificate for 127.0.0.1 and localhost, and
// a client certificate, written as PEM files and offered as tls.Configs.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Set is a CA with a server and a client certificate, and the paths of their
// PEM files.
type Set struct {
	CAFile, ServerCert, ServerKey, ClientCert, ClientKey string

	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

// New writes a fresh set into dir.
func New(dir string) (*Set, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "zkdr test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	s := &Set{
		CAFile:     filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
		pool:       x509.NewCertPool(),
	}
	s.pool.AddCert(ca)
	if err := writePEM(s.CAFile, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	issue := func(serial int64, name string, usage x509.ExtKeyUsage, certFile, keyFile string) (tls.Certificate, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, err
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return tls.Certificate{}, err
		}
		if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
			return tls.Certificate{}, err
		}
		if err := writePEM(keyFile, "EC PRIVATE KEY", keyDER); err != nil {
			return tls.Certificate{}, err
		}
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	if s.server, err = issue(2, "zkdr test server", x509.ExtKeyUsageServerAuth, s.ServerCert, s.ServerKey); err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	if s.client, err = issue(3, "zkdr test client", x509.ExtKeyUsageClientAuth, s.ClientCert, s.ClientKey); err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	return s, nil
}

// ServerTLS is a server's config; with verifyClients it requires a client
// certificate signed by the CA.
func (s *Set) ServerTLS(verifyClients bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{s.server}, MinVersion: tls.VersionTLS12}
	if verifyClients {
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, s.pool
	}
	return c
}

// ClientTLS is a client's config trusting the CA and presenting the client
// certificate.
func (s *Set) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.pool, Certificates: []tls.Certificate{s.client}, MinVersion: tls.VersionTLS12}
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}
