// Command tokencache is a daemon that hands out delegated child tokens to an
// ingress such as nginx's auth_request, as Gafaelfawr's /ingress/auth does,
// plus the operator commands around it. With no store flags it runs on
// in-memory stores; with Redis and PostgreSQL it shares Gafaelfawr's.
//
// Run "tokencache -h" for the commands and "tokencache <command> -h" for
// each command's flags and environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line was wrong
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// cli is what every command reads and writes: nothing global, so that the
// commands could run in a test's process.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand: it parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(c *cli, ctx context.Context, args []string) error
}

var commands = []command{
	{"serve", "run the HTTP daemon (in-memory stores unless Redis and PostgreSQL are given)", (*cli).serve},
	{"migrate", "create Gafaelfawr's token schema in PostgreSQL where it is missing", (*cli).migrate},
	{"mint-session", "create a parent session token in Redis and PostgreSQL and print it", (*cli).mintSession},
	{"version", "print the version", (*cli).version},
}

// run runs the command named by args[0] and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 {
		c.usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		c.usage(stdout)
		return exitOK
	}
	for _, cmd := range commands {
		if cmd.name != args[0] {
			continue
		}
		err := cmd.run(c, ctx, args[1:])
		var usage usageError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &usage):
			if usage != "" {
				fmt.Fprintf(stderr, "tokencache %s: %v (see tokencache %[1]s -h)\n", cmd.name, err)
			}
			return exitUsage
		}
		fmt.Fprintf(stderr, "tokencache %s: %v\n", cmd.name, err)
		return exitError
	}
	if name := args[0]; flagName(name) == name {
		fmt.Fprintf(stderr, "tokencache: unknown command %q\n\n", name)
	} else {
		fmt.Fprint(stderr, "tokencache: unknown command (not repeated here, since it could be a secret)\n\n")
	}
	c.usage(stderr)
	return exitUsage
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, `tokencache issues and caches delegated child tokens (notebook and internal
tokens) of a parent token, for Gafaelfawr-style authentication gateways.

Usage:
  tokencache <command> [flags]

Commands:
`)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
Run "tokencache <command> -h" for a command's flags and environment variables.
`)
}
