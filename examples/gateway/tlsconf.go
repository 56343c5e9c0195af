package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// loadTLS builds the mutual-TLS configuration every member uses for raft
// and node RPC: it presents cert and accepts only peers whose certificates
// the CA signed, in both directions.
func loadTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading -tls-cert/-tls-key: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading -tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-tls-ca %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// adminTLS is the admin API's server configuration: the node's certificate,
// no client certificates asked (put an authenticating proxy or client
// certificates in front of it in production).
func adminTLS(node *tls.Config) *tls.Config {
	return &tls.Config{Certificates: node.Certificates, MinVersion: tls.VersionTLS12}
}
