package main

import (
	"io"
	"log/slog"
)

// newLogger returns the JSON logger every command logs to, on standard
// error so that standard output stays for what a script captures.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
