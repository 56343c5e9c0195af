package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "gateway:", err)
		fmt.Fprintln(os.Stderr, "run 'gateway -h' for the flags")
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// dispatch runs a subcommand (echo, gencert) or, by default, a node.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "echo":
			return echo(ctx, args[1:], stdout)
		case "gencert":
			return gencert(args[1:], stdout)
		}
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return run(ctx, o, stderr)
}
