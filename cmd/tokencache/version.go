package main

import (
	"context"
	"fmt"
)

// version is the release, set at build time with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

func (c *cli) version(_ context.Context, args []string) error {
	fs := c.newFlagSet("version", "Print the version of tokencache.", nil)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "tokencache %s\n", version)
	return nil
}
