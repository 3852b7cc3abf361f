package adapters

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
)

// SharedRateLimiter holds each tenant's limit across every ingest replica:
// one GCRA bucket per tenant in Redis (go-redis/redis_rate, timed by the
// Redis server's clock), so scaling ingest out does not raise a tenant's
// limit. Redis is not on the write path's critical list: when it does not
// answer within the client's timeout, the limiter falls back to a bucket
// in this process (the limit then holds per replica) and asks Redis again
// after a pause, so an outage costs neither events nor latency.
type SharedRateLimiter struct {
	redis    *redis_rate.Limiter
	local    *RateLimiter
	prefix   string
	pause    time.Duration
	now      func() time.Time
	log      *slog.Logger
	fallback prometheus.Counter

	// downUntil is when to ask Redis again (unix nanoseconds), after a
	// failure; zero while Redis answers.
	downUntil atomic.Int64
}

// SharedLimiterOption tunes a SharedRateLimiter.
type SharedLimiterOption func(*SharedRateLimiter)

// WithLimiterKeyPrefix puts the buckets under prefix (tests keep apart so).
func WithLimiterKeyPrefix(prefix string) SharedLimiterOption {
	return func(l *SharedRateLimiter) { l.prefix = prefix }
}

// WithLimiterMetrics counts decisions taken by the local fallback in
// bazgasht_ingest_rate_limit_fallbacks_total.
func WithLimiterMetrics(reg prometheus.Registerer) SharedLimiterOption {
	return func(l *SharedRateLimiter) {
		l.fallback = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bazgasht_ingest_rate_limit_fallbacks_total",
			Help: "Rate-limit decisions taken by this replica alone because Redis did not answer.",
		})
		reg.MustRegister(l.fallback)
	}
}

// NewSharedRateLimiter keeps its buckets in rdb, whose timeouts bound each
// decision; pause is how long to decide locally after Redis failed.
func NewSharedRateLimiter(rdb *redis.Client, pause time.Duration, now func() time.Time, log *slog.Logger, opts ...SharedLimiterOption) *SharedRateLimiter {
	l := &SharedRateLimiter{redis: redis_rate.NewLimiter(rdb), local: NewRateLimiter(now), prefix: "bazgasht:", pause: pause, now: now, log: log}
	for _, o := range opts {
		o(l)
	}
	return l
}

var _ app.Limiter = (*SharedRateLimiter)(nil)

// Allow takes n events from t's shared bucket, or takes none and says how
// long until n fit.
func (l *SharedRateLimiter) Allow(ctx context.Context, t *tenant.Tenant, n int) (bool, time.Duration) {
	if t.RatePerSecond <= 0 {
		return true, 0
	}
	if n > t.Burst {
		return false, neverAtOnce(t, n)
	}
	if until := l.downUntil.Load(); until != 0 && l.now().UnixNano() < until {
		return l.decideLocally(ctx, t, n)
	}
	res, err := l.redis.AllowN(ctx, l.prefix+"ingest:rate:"+t.ID, limitOf(t), n)
	if err != nil && ctx.Err() != nil {
		// The caller went away or ran out of time, not Redis: its events
		// could not be stored anyway, and Redis stays in charge.
		return false, time.Second
	}
	if err != nil {
		if l.downUntil.Swap(l.now().Add(l.pause).UnixNano()) == 0 {
			l.log.WarnContext(ctx, "rate limits: Redis did not answer; each replica limits on its own until it does", "err", err, "retry_in", l.pause)
		}
		return l.decideLocally(ctx, t, n)
	}
	if l.downUntil.Swap(0) != 0 {
		l.log.InfoContext(ctx, "rate limits: Redis answers again; limits are shared")
	}
	if res.Allowed < n {
		return false, max(res.RetryAfter, time.Millisecond)
	}
	return true, 0
}

func (l *SharedRateLimiter) decideLocally(ctx context.Context, t *tenant.Tenant, n int) (bool, time.Duration) {
	if l.fallback != nil {
		l.fallback.Inc()
	}
	return l.local.Allow(ctx, t, n)
}

// limitOf expresses a tenant's events per second as redis_rate's limit:
// the bucket's script uses only the interval between events (period over
// rate), so one event per 1/rate seconds is exact for any rate.
func limitOf(t *tenant.Tenant) redis_rate.Limit {
	return redis_rate.Limit{Rate: 1, Burst: t.Burst, Period: time.Duration(float64(time.Second) / t.RatePerSecond)}
}
