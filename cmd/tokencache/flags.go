package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// usageError means the command line was wrong. Its message, if not empty,
// has yet to be shown; an empty one means the flag package has shown it.
type usageError string

func (e usageError) Error() string { return string(e) }

// newFlagSet returns a flag set whose -h shows synopsis, then the flags,
// then the environment variables the command reads (name and meaning), on
// the command's standard error.
func (c *cli) newFlagSet(name, synopsis string, env [][2]string) *flag.FlagSet {
	fs := flag.NewFlagSet("tokencache "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: tokencache %s [flags]\n\n%s\n", name, strings.TrimSpace(synopsis))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
		if len(env) > 0 {
			fmt.Fprint(w, "\nEnvironment (a flag given on the command line wins):\n")
			for _, e := range env {
				fmt.Fprintf(w, "  %s\n    \t%s\n", e[0], e[1])
			}
		}
	}
	return fs
}

// parse parses args, which must hold flags only. A parse error or a stray
// argument yields an empty usageError after the message and usage are shown; -h
// yields flag.ErrHelp after the usage is shown.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("")
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return usageError("")
	}
	return nil
}

// commaList is a repeatable flag whose values may also be comma lists.
type commaList []string

func (s *commaList) String() string { return strings.Join(*s, ",") }

func (s *commaList) Set(v string) error {
	return eachItem(v, func(item string) error {
		*s = append(*s, item)
		return nil
	})
}

// givenFlags returns the names of the flags given on fs's command line.
func givenFlags(fs *flag.FlagSet) map[string]bool {
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}
