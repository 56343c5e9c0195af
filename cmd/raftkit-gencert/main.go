// Command raftkit-gencert issues the certificates for a raftkit cluster's
// mutual TLS: a CA, and per node a certificate that names the node ID.
//
// Usage:
//
//	raftkit-gencert ca   -dir DIR [-days 365]
//	raftkit-gencert node -dir DIR -id ID [-cluster ID] [-hosts LIST] [-days 90]
//
// "ca" writes DIR/ca.pem (the bundle every node trusts) and DIR/ca-key.pem
// (keep it off the nodes). "node" signs with them and writes DIR/ID.pem
// and DIR/ID-key.pem: a certificate whose DNS SAN is the node ID, with
// -cluster also the URI SAN raftkit://<cluster>/<ID>, plus -hosts (IP
// addresses and host names peers dial the node by), valid for server and
// client use. A node runs with
//
//	tls.Config{Certificates: []tls.Certificate{ID.pem + ID-key.pem}, RootCAs: pool of ca.pem}
//
// See docs/SECURITY.md for rotation.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftkit/raftkit/internal/certgen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "raftkit-gencert:", err)
		os.Exit(1)
	}
}

const usage = "usage: raftkit-gencert ca -dir DIR [-days N]\n       raftkit-gencert node -dir DIR -id ID [-cluster ID] [-hosts IP,NAME,...] [-days N]"

var errUsage = errors.New(usage)

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "ca":
		return runCA(args[1:], out)
	case "node":
		return runNode(args[1:], out)
	}
	return errUsage
}

func runCA(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ca", flag.ContinueOnError)
	fs.SetOutput(out)
	dir := fs.String("dir", "", "directory to write ca.pem and ca-key.pem into (required)")
	days := fs.Int("days", 365, "validity in days")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 || *days < 1 {
		return errUsage
	}
	certFile, keyFile := filepath.Join(*dir, "ca.pem"), filepath.Join(*dir, "ca-key.pem")
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s exists; a new CA is a rotation (docs/SECURITY.md), not an overwrite", f)
		}
	}
	ca, err := certgen.NewCA("raftkit cluster CA", time.Duration(*days)*24*time.Hour)
	if err != nil {
		return err
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if err := writeFiles(map[string][]byte{certFile: ca.CertPEM(), keyFile: keyPEM}); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s and %s (valid %d days)\n", certFile, keyFile, *days)
	return nil
}

func runNode(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(out)
	dir := fs.String("dir", "", "directory holding ca.pem and ca-key.pem, to write ID.pem and ID-key.pem into (required)")
	id := fs.String("id", "", "node ID, as in raftsync.Config.ID (required)")
	cluster := fs.String("cluster", "", "cluster ID (raftsync.Config.ClusterID): adds the URI SAN raftkit://CLUSTER/ID")
	hosts := fs.String("hosts", "", "comma-separated IP addresses and host names peers dial the node by")
	days := fs.Int("days", 90, "validity in days")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *id == "" || fs.NArg() > 0 || *days < 1 || strings.ContainsAny(*id, `/\`) {
		return errUsage
	}
	certPEM, err := os.ReadFile(filepath.Join(*dir, "ca.pem"))
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(filepath.Join(*dir, "ca-key.pem"))
	if err != nil {
		return err
	}
	ca, err := certgen.LoadCA(certPEM, keyPEM)
	if err != nil {
		return err
	}
	var hostList []string
	if *hosts != "" {
		hostList = strings.Split(*hosts, ",")
	}
	cert, key, err := ca.Issue(certgen.Node{ID: *id, ClusterID: *cluster, Hosts: hostList, Validity: time.Duration(*days) * 24 * time.Hour})
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(*dir, *id+".pem"), filepath.Join(*dir, *id+"-key.pem")
	if err := writeFiles(map[string][]byte{certFile: cert, keyFile: key}); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s and %s\n", certFile, keyFile)
	return nil
}

// writeFiles writes each file readable by its owner only, through a
// temporary file renamed into place.
func writeFiles(files map[string][]byte) error {
	for name, data := range files {
		tmp := name + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, name); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	return nil
}
