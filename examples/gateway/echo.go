package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// echo runs a tiny upstream for trying the gateway out: it answers every
// request with its own name, the method, the path it received and the
// headers the gateway set, so routing, prefix stripping and header
// rewrites are visible with curl.
func echo(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("gateway echo", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "", "address to listen on, host:port (required)")
	name := fs.String("name", "", "name to answer with (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *addr == "" || *name == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: gateway echo -addr HOST:PORT -name NAME", errUsage)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", *name)
		fmt.Fprintf(w, "upstream %s: %s %s", *name, r.Method, r.URL.RequestURI())
		// The X- headers show what the gateway added: X-Forwarded-* and
		// the route's set_headers.
		for _, k := range slices.Sorted(maps.Keys(r.Header)) {
			if strings.HasPrefix(k, "X-") {
				fmt.Fprintf(w, " %s=%s", k, strings.Join(r.Header[k], ","))
			}
		}
		fmt.Fprintln(w)
	})}
	fmt.Fprintf(out, "echo upstream %q listening on %s\n", *name, ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
