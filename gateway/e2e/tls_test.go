package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestServiceTLS runs the stack with mutual TLS between every process: a
// case registered through the gateway reaches reporting over the feeds,
// and a service refuses plaintext and TLS clients without a certificate of
// the county's CA.
func TestServiceTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", ca.Raw)
	leaf, leafKey := newLeaf(t, ca, caKey, "tongban-service")
	writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", leaf)
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "tls.key"), "EC PRIVATE KEY", keyDER)
	s, _, _ := startStackEnv(t,
		"TONGBAN_TLS_CERT_FILE="+filepath.Join(dir, "tls.crt"), "TONGBAN_TLS_KEY_FILE="+filepath.Join(dir, "tls.key"),
		"TONGBAN_TLS_CA_FILE="+filepath.Join(dir, "ca.crt"), "TONGBAN_TLS_CLIENT_AUTH=require")
	c := &client{t: t, base: s.GatewayURL()}

	c.do("POST", "/v1/cases", "demo-dayun", map[string]any{
		"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM",
		"subject": "路灯损坏", "content": "村口路灯损坏一个月。", "petitioners": []any{map[string]any{"displayName": "王五"}},
	}).must(t, 201, "register over TLS")
	c.eventually("the case crossed intake → assignment → reporting over mutual TLS", func() string {
		r := c.do("GET", "/v1/counties/330421/summary", "demo-bureau", nil)
		if r.str("registered") != "1" {
			return r.raw
		}
		return ""
	})

	health := func(creds credentials.TransportCredentials) error {
		conn, err := grpc.NewClient(s.IntakeAddr(), grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	pair := tls.Certificate{Certificate: [][]byte{leaf}, PrivateKey: leafKey}
	if err := health(insecure.NewCredentials()); err == nil {
		t.Error("intake answered a plaintext client")
	}
	if err := health(credentials.NewTLS(&tls.Config{RootCAs: roots})); err == nil {
		t.Error("intake answered a TLS client without a certificate")
	}
	if err := health(credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}})); err != nil {
		t.Errorf("intake refused a client with the CA's certificate: %v", err)
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Tongban test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

// newLeaf issues a certificate for the loopback services, usable as
// server and client.
func newLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
