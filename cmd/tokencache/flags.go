package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
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
//
// The message never quotes an argument: a flag that takes a value swallows
// the next argument, a URL with an unquoted space splits in two, and a
// secret that begins with "-" reads as a flag, so any argument may be a
// secret. The flag package's own messages, which quote them, are replaced.
func parse(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	swallower := swallowingFlag(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case swallower != "":
		fmt.Fprintf(out, "flag -%s is missing its value: the argument after it names another flag (not repeated here, since it could be a secret)\n", swallower)
	case err != nil:
		fmt.Fprintln(out, parseMessage(err))
	case fs.NArg() > 0:
		fmt.Fprintf(out, "unexpected argument (the first of %d after the flags; not repeated here, since it could be a secret)\n", fs.NArg())
	default:
		return nil
	}
	fs.Usage()
	return usageError("")
}

// swallowingFlag returns the name of the first flag in args that takes a
// value and was given, as its value, an argument that names another flag
// of fs ("-name", "--name" or "--name=..."): the command line left that
// value out, and the flag would take the other flag, a secret perhaps,
// for it. It returns "" if there is none. It reads args as fs.Parse does,
// up to the first argument that is not a flag.
func swallowingFlag(fs *flag.FlagSet, args []string) string {
	for i := 0; i < len(args); i++ {
		name, ok := flagArgName(args[i])
		if !ok || strings.Contains(args[i], "=") {
			if !ok {
				return ""
			}
			continue
		}
		f := fs.Lookup(name)
		if f == nil || isBoolFlag(f) || i+1 == len(args) {
			continue
		}
		i++ // args[i] is f's value
		if next, ok := flagArgName(args[i]); ok && fs.Lookup(next) != nil {
			return name
		}
	}
	return ""
}

// flagArgName is the name of the flag arg sets ("-name", "--name" or
// either with "=value"), and whether arg is a flag at all; "--" and "-"
// are not.
func flagArgName(arg string) (string, bool) {
	name, ok := strings.CutPrefix(arg, "-")
	if !ok {
		return "", false
	}
	name = strings.TrimPrefix(name, "-")
	name, _, _ = strings.Cut(name, "=")
	return name, name != "" && arg != "--"
}

// isBoolFlag reports whether f takes no value, as the flag package decides.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseMessage is the flag package's error err with the argument it
// quotes left out. A flag's name is kept only for a flag that is defined,
// and then only if it looks like one of ours: lower-case words joined by
// hyphens.
func parseMessage(err error) string {
	msg := err.Error()
	if _, name, ok := strings.Cut(msg, " for flag -"); ok {
		name, _, _ = strings.Cut(name, ":")
		return "invalid value for flag -" + flagName(name) + " (the value is not repeated here, since it could be a secret)"
	}
	if _, name, ok := strings.Cut(msg, " for -"); ok { // a boolean flag's
		name, _, _ = strings.Cut(name, ":")
		return "invalid value for flag -" + flagName(name) + " (the value is not repeated here, since it could be a secret)"
	}
	if strings.HasPrefix(msg, "flag provided but not defined") {
		// Not one of ours, so it may be anything: a secret read as a flag.
		return "flag provided but not defined (its name is not repeated here, since it could be a secret)"
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "flag needs an argument: -" + flagName(name)
	}
	if strings.HasPrefix(msg, "bad flag syntax") {
		return "bad flag syntax (the argument is not repeated here, since it could be a secret)"
	}
	return "the flags do not parse (the arguments are not repeated here, since they could be secrets)"
}

// flagName is name if it looks like a flag's name, else a stand-in.
func flagName(name string) string {
	if len(name) > 0 && len(name) <= 40 && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz-") == "" {
		return name
	}
	return "… (a name that is not repeated here, since it could be a secret)"
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
