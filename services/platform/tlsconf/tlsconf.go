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

// Settings (each read as TONGBAN_<name> or <SERVICE>_<name>).
const (
	CertFile   = "TLS_CERT_FILE"   // PEM certificate of this process (server and client)
	KeyFile    = "TLS_KEY_FILE"    // its PEM private key
	CAFile     = "TLS_CA_FILE"     // PEM CA bundle that signed the peers
	ClientAuth = "TLS_CLIENT_AUTH" // "require": servers accept only clients with a certificate of the CA
)

// Config is the TLS of one process; the zero Config is plaintext.
type Config struct {
	cert    *tls.Certificate
	roots   *x509.CertPool
	mutual  bool
	enabled bool
}

// FromEnv reads the settings with env (name, default).
func FromEnv(env func(name, def string) string) (*Config, error) {
	certFile, keyFile, caFile := env(CertFile, ""), env(KeyFile, ""), env(CAFile, "")
	auth := env(ClientAuth, "none")
	if certFile == "" && keyFile == "" && caFile == "" {
		if auth == "require" {
			return nil, errors.New("TLS_CLIENT_AUTH=require needs TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE")
		}
		return &Config{}, nil
	}
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, errors.New("TLS needs all of TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE")
	}
	if auth != "none" && auth != "require" {
		return nil, fmt.Errorf("TLS_CLIENT_AUTH: want none or require, have %q", auth)
	}
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
