package mux

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// ErrNoClientCAs is returned by ServerConfig for a TLS config that names no
// certificate authority to verify peers against.
var ErrNoClientCAs = errors.New("mux: TLS config has neither ClientCAs nor RootCAs to verify peers against")

// ServerConfig returns the configuration a Mux accepts TLS connections
// with: a clone of conf that requires a client certificate and verifies it
// against conf.ClientCAs, or against conf.RootCAs when ClientCAs is nil
// (one CA pool, as an application usually writes it, serves both
// directions). Whatever conf.ClientAuth says is overridden, and so is the
// ClientAuth of a config returned by conf.GetConfigForClient. It returns an
// error wrapping ErrNoClientCAs when conf has neither pool: verifying
// against the system roots would admit any publicly issued certificate.
// conf is not modified.
func ServerConfig(conf *tls.Config) (*tls.Config, error) {
	if conf == nil {
		return nil, nil
	}
	out, err := requireClientCert(conf)
	if err != nil {
		return nil, err
	}
	if get := conf.GetConfigForClient; get != nil {
		out.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := get(hello)
			if err != nil || c == nil {
				return c, err
			}
			return requireClientCert(c)
		}
	}
	return out, nil
}

func requireClientCert(conf *tls.Config) (*tls.Config, error) {
	out := conf.Clone()
	if out.ClientCAs == nil {
		out.ClientCAs = out.RootCAs
	}
	if out.ClientCAs == nil {
		return nil, fmt.Errorf("%w: set RootCAs (or ClientCAs) to the cluster's CA", ErrNoClientCAs)
	}
	out.ClientAuth = tls.RequireAndVerifyClientCert
	return out, nil
}
