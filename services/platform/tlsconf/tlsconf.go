// Package tlsconf sets up TLS between the services (and from the gateway to
// them) from settings: a certificate and key for the process, the CA that
// signed its peers, and whether a server requires its clients to present a
// certificate too (mutual TLS). With no certificate set, connections are
// plaintext, as on a developer's loopback; the deploy manifests turn it on.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Settings are the files and the client rule, as a process's configuration
// reads them (TONGBAN_TLS_CERT_FILE …).
type Settings struct {
	CertFile string `env:"TLS_CERT_FILE"` // PEM certificate of this process (server and client)
	KeyFile  string `env:"TLS_KEY_FILE"`  // its PEM private key
	CAFile   string `env:"TLS_CA_FILE"`   // PEM CA bundle that signed the peers
	// ClientAuth "require": servers accept only clients with a certificate
	// of the CA.
	ClientAuth string `env:"TLS_CLIENT_AUTH" envDefault:"none"`
}

// Validate says what is missing or wrong, without reading the files.
func (s Settings) Validate() error {
	if s.CertFile == "" && s.KeyFile == "" && s.CAFile == "" {
		if s.ClientAuth == "require" {
			return errors.New("TLS_CLIENT_AUTH=require needs TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE")
		}
		return nil
	}
	if s.CertFile == "" || s.KeyFile == "" || s.CAFile == "" {
		return errors.New("TLS needs all of TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE")
	}
	if s.ClientAuth != "none" && s.ClientAuth != "require" {
		return fmt.Errorf("TLS_CLIENT_AUTH: want none or require, have %q", s.ClientAuth)
	}
	return nil
}

// Config is the TLS of one process; the zero Config is plaintext.
type Config struct {
	cert    *tls.Certificate
	roots   *x509.CertPool
	mutual  bool
	enabled bool
}

// Load reads the certificate, key and CA the settings name.
func (s Settings) Load() (*Config, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.CertFile == "" {
		return &Config{}, nil
	}
	certFile, keyFile, caFile, auth := s.CertFile, s.KeyFile, s.CAFile, s.ClientAuth
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("TLS CA: no certificate in %s", caFile)
	}
	return &Config{cert: &cert, roots: roots, mutual: auth == "require", enabled: true}, nil
}

// Enabled says whether connections use TLS.
func (c *Config) Enabled() bool { return c.enabled }

// Server is the transport of a gRPC server: TLS 1.3 with this process's
// certificate, client certificates of the CA required under mutual TLS.
func (c *Config) Server() credentials.TransportCredentials {
	if !c.enabled {
		return insecure.NewCredentials()
	}
	t := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{*c.cert}}
	if c.mutual {
		t.ClientAuth, t.ClientCAs = tls.RequireAndVerifyClientCert, c.roots
	}
	return credentials.NewTLS(t)
}

// Client is the transport to a peer: its certificate must chain to the CA
// and name the address dialled; this process's certificate goes along, for
// servers that require one.
func (c *Config) Client() credentials.TransportCredentials {
	if !c.enabled {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: c.roots, Certificates: []tls.Certificate{*c.cert}})
}
