// Package certgen issues the certificates a raftkit cluster's mutual TLS
// needs: a CA, and per node a certificate that names the node ID (a DNS
// SAN, and a URI SAN raftkit://<cluster-id>/<node-id> when the cluster ID
// is known) plus the host names and IP addresses peers dial it by, valid
// for server and client use. cmd/raftkit-gencert and the gateway example
// use it.
package certgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// ErrInvalid is wrapped by errors for a bad request: an empty node ID, a
// non-positive validity, PEM input that holds no CA.
var ErrInvalid = errors.New("certgen: invalid input")

// CA is a certificate authority: its certificate and private key.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA creates a CA with a fresh P-256 key, valid from an hour ago (for
// clock skew) for validity.
func NewCA(commonName string, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("%w: validity %v", ErrInvalid, validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCA reads a CA from its PEM certificate and PEM private key (as
// CertPEM and KeyPEM write them).
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no PEM certificate", ErrInvalid)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%w: the certificate is not a CA", ErrInvalid)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "EC PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PEM EC private key", ErrInvalid)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: the key does not belong to the certificate", ErrInvalid)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// CertPEM returns the CA certificate in PEM: the bundle every node trusts.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// KeyPEM returns the CA's private key in PEM. Keep it off the nodes.
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// Node describes one node's certificate.
type Node struct {
	// ID is the node ID (raftsync.Config.ID). It becomes a DNS SAN when it
	// is a valid DNS name, and the node of the URI SAN.
	ID string
	// ClusterID, when set, adds the URI SAN raftkit://<ClusterID>/<ID>,
	// which binds the certificate to that cluster.
	ClusterID string
	// Hosts are the host names (DNS SANs) and IP addresses (IP SANs) that
	// peers and clients dial the node by. Note that every DNS SAN counts
	// as a node ID the certificate names: use host names that are no
	// other node's ID.
	Hosts []string
	// Validity is how long the certificate is valid.
	Validity time.Duration
}

// Issue returns a certificate for n signed by the CA, and its private
// key, both PEM. A node ID that is not a valid DNS name needs ClusterID
// (it is then named by the URI SAN only).
func (ca *CA) Issue(n Node) (certPEM, keyPEM []byte, err error) {
	if strings.TrimSpace(n.ID) == "" {
		return nil, nil, fmt.Errorf("%w: empty node ID", ErrInvalid)
	}
	if n.Validity <= 0 {
		return nil, nil, fmt.Errorf("%w: validity %v", ErrInvalid, n.Validity)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: n.ID},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if validDNSName(n.ID) {
		tmpl.DNSNames = append(tmpl.DNSNames, n.ID)
	}
	if n.ClusterID != "" {
		if !validDNSName(n.ClusterID) {
			return nil, nil, fmt.Errorf("%w: cluster ID %q cannot be a URI host", ErrInvalid, n.ClusterID)
		}
		tmpl.URIs = append(tmpl.URIs, &url.URL{Scheme: "raftkit", Host: n.ClusterID, Path: "/" + n.ID})
	}
	if len(tmpl.DNSNames) == 0 && len(tmpl.URIs) == 0 {
		return nil, nil, fmt.Errorf("%w: node ID %q is not a DNS name; give a cluster ID so that a URI SAN names it", ErrInvalid, n.ID)
	}
	for _, h := range n.Hosts {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if validDNSName(h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		} else {
			return nil, nil, fmt.Errorf("%w: host %q is neither an IP address nor a DNS name", ErrInvalid, h)
		}
	}
	return ca.sign(tmpl, n.Validity)
}

func (ca *CA) sign(tmpl *x509.Certificate, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(validity)
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// validDNSName reports whether s is a host name made of letters, digits,
// hyphens and dots, as a DNS SAN must be.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}
