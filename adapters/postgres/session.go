package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lib/pq"
)

// idleInTransactionParameter is the server's name for the bound of
// IdleInTransactionTimeout.
const idleInTransactionParameter = "idle_in_transaction_session_timeout"

// clientCheckInterval is how often, in milliseconds, the server checks
// that a session's client is still there while a statement runs
// (PostgreSQL 14 and later; older servers skip it): a statement waiting
// for a lock otherwise runs on, holding the locks its transaction took,
// after its client has given up on it and closed the connection.
const clientCheckInterval = "1000"

// clientCheck sets client_connection_check_interval to ms on servers that
// have it.
func clientCheck(ms string) string {
	return `CASE WHEN current_setting('server_version_num')::int >= 140000
	THEN set_config('client_connection_check_interval', '` + ms + `', false) END`
}

// sessionSetup is the one statement that sets up each connection's
// session: generic plans (see generic_plans.go), the bound on a session
// idle in a transaction (see IdleInTransactionTimeout) and the check for a
// client gone every checkMillis milliseconds (see clientCheckInterval; ""
// for none), each unless the URL sets it; "" if there is nothing to set.
// The settings go as a statement once connected rather than in the
// startup message, which a pooler in session mode (PgBouncer) refuses for
// parameters it does not know.
func sessionSetup(cfg *pq.Config, idleInTransaction time.Duration, checkMillis string) string {
	var settings []string
	if wantsGenericPlans(cfg) {
		settings = append(settings, genericPlans)
	}
	if !setsParameter(cfg, idleInTransactionParameter) {
		ms := min(max(idleInTransaction.Milliseconds(), 1), math.MaxInt32)
		settings = append(settings, fmt.Sprintf("set_config('%s', '%d', false)", idleInTransactionParameter, ms))
	}
	if checkMillis != "" && !setsParameter(cfg, "client_connection_check_interval") {
		settings = append(settings, clientCheck(checkMillis))
	}
	if len(settings) == 0 {
		return ""
	}
	return "SELECT " + strings.Join(settings, ",\n\t")
}

// setsParameter reports whether cfg sets the server parameter name, as a
// runtime parameter or in options ("-c name=value").
// PostgreSQL reads parameter names without regard to case, and in
// options also with "-" for "_" (-c plan-cache-mode=auto).
func setsParameter(cfg *pq.Config, name string) bool {
	for k := range cfg.Runtime {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return strings.Contains(strings.ReplaceAll(strings.ToLower(cfg.Options), "-", "_"), name)
}

// setUpSession runs setup on pc. It runs while the handshake's watch (see
// connSlot) still bounds the connection.
func setUpSession(ctx context.Context, pc pqConn, setup string) error {
	if _, err := pc.ExecContext(context.WithoutCancel(ctx), setup, nil); err != nil {
		return fmt.Errorf("setting up the session: %w", err)
	}
	return nil
}
