package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// RouteDriverLog sends go-redis's own log lines (such as "connection pool:
// failed to dial"), which it otherwise writes as plain text to standard
// error, to logger as warnings: records with the message "redis driver"
// and the line in "detail". go-redis never logs a command's arguments,
// so no token or password reaches them. go-redis has one logger for the
// whole process: the last call wins.
func RouteDriverLog(logger *slog.Logger) {
	goredis.SetLogger(driverLog{logger: logger})
}

// driverLog adapts a *slog.Logger to go-redis's logging interface.
type driverLog struct {
	logger *slog.Logger
}

func (d driverLog) Printf(ctx context.Context, format string, v ...any) {
	d.logger.WarnContext(ctx, "redis driver", slog.String("detail", fmt.Sprintf(format, v...)))
}
