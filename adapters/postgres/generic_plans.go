package postgres

import (
	"github.com/lib/pq"
)

// PostgreSQL plans a prepared statement anew for its arguments (a custom
// plan) on its first five runs, and from then on keeps one plan for any
// arguments (a generic plan) only if that plan's estimated cost is below
// the custom plans' average. The repository's statements are lookups by
// key whose best plan does not depend on the arguments, but which side of
// that comparison they fall on depends on the statistics of the moment (a
// creation time past the end of the histogram, say): on some connections
// every run was planned again, for as long as the connection lived, which
// made a creation about a sixth slower (BenchmarkIntegrationCreation:
// create/floor 1.39 to 1.49 on runs whose connections did, 1.18 to 1.23 on
// the others). So each connection is told to keep generic plans
// (plan_cache_mode, PostgreSQL 12 and later; older servers skip the
// setting), once, when it opens (see sessionSetup): the statements are
// planned once per connection, as prepared.go intends (the lookups twice:
// they are also prepared by name, see queryFirst).
const genericPlans = `CASE WHEN current_setting('server_version_num')::int >= 120000
	THEN set_config('plan_cache_mode', 'force_generic_plan', false) END`

// wantsGenericPlans reports whether connections opened with cfg should be
// told to keep generic plans: unless the URL chooses a plan_cache_mode of
// its own, which is then left as it is.
func wantsGenericPlans(cfg *pq.Config) bool {
	return !setsParameter(cfg, "plan_cache_mode")
}
