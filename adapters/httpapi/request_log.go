package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/tokencache/tokencache/domain"
)

// requestInfo collects, while a handler runs, what the request log should
// say about the request beyond its method, path and status.
type requestInfo struct {
	username  string
	tokenType domain.TokenType
	service   string
	outcome   outcome
	err       error
}

type requestInfoKey struct{}

// requestInfoFrom returns the request's info, or a throwaway one for a
// handler called without logRequests (as in a test).
func requestInfoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

// setRequest records what kind of child was asked for, if any.
func (i *requestInfo) setRequest(p delegateParams) {
	switch {
	case p.notebook:
		i.tokenType = domain.TokenTypeNotebook
	case p.service != "":
		i.tokenType, i.service = domain.TokenTypeInternal, p.service
	}
}

// logRequests logs one record per request when it ends. It logs the path
// without the query and never a header, so no token reaches the log; the
// error of a failed request is logged because errors never hold secrets.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))

		attrs := []slog.Attr{
			slog.String("method", bounded(r.Method)), // as free as the path
			slog.String("path", bounded(r.URL.Path)),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote_addr", r.RemoteAddr),
		}
		if info.outcome != "" {
			attrs = append(attrs, slog.String("outcome", string(info.outcome)))
		}
		if info.username != "" {
			attrs = append(attrs, slog.String("username", info.username))
		}
		if info.tokenType != "" {
			attrs = append(attrs, slog.String("token_type", string(info.tokenType)))
		}
		if info.service != "" {
			attrs = append(attrs, slog.String("service", info.service))
		}
		level := slog.LevelInfo
		if rec.status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		if info.err != nil {
			attrs = append(attrs, slog.String("error", info.err.Error()))
		}
		logger.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// maxLoggedPath bounds the path in the request log: the client chooses it,
// up to the header's limit.
const maxLoggedPath = 256

// bounded is s cut to maxLoggedPath bytes, at a character's start, and
// marked as cut.
func bounded(s string) string {
	if len(s) <= maxLoggedPath {
		return s
	}
	cut := maxLoggedPath
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(cut)"
}

// statusRecorder remembers the status a handler sent.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(status int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = status, true
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
