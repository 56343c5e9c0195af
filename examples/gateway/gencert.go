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

// gencert writes a throwaway CA and, for each node ID, a certificate that
// names the ID (raftkit binds a peer's certificate to the member it acts
// as) and the hosts peers dial it by, valid for server and client use, so
// the README's TLS cluster can start without openssl. Production clusters
// issue them from their own CA (cmd/raftkit-gencert).
func gencert(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("gateway gencert", flag.ContinueOnError)
	fs.SetOutput(out)
	dir := fs.String("dir", "", "directory to write ca.pem and ID.pem, ID-key.pem per node into (required)")
	ids := fs.String("ids", "node1,node2,node3", "comma-separated node IDs (-id of each node)")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "comma-separated IPs and DNS names every certificate is valid for")
	days := fs.Int("days", 30, "validity in days")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *dir == "" || fs.NArg() > 0 || *days < 1 || *ids == "" {
		return fmt.Errorf("%w: gateway gencert -dir DIR [-ids node1,node2,node3] [-hosts LIST] [-days N]", errUsage)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	validity := time.Duration(*days) * 24 * time.Hour
	ca, err := certgen.NewCA("gateway example CA", validity)
	if err != nil {
		return err
	}
	files := map[string][]byte{"ca.pem": ca.CertPEM()}
	for _, id := range strings.Split(*ids, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		if strings.ContainsAny(id, `/\`) {
			return fmt.Errorf("%w: node ID %q", errUsage, id)
		}
		cert, key, err := ca.Issue(certgen.Node{ID: id, Hosts: strings.Split(*hosts, ","), Validity: validity})
		if err != nil {
			return err
		}
		files[id+".pem"], files[id+"-key.pem"] = cert, key
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(*dir, name), b, 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "wrote %s/ca.pem and a certificate per node for %s (valid for %s, %d days)\n", *dir, *ids, *hosts, *days)
	return nil
}
