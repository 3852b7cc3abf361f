package adapters

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
)

// RateLimiter is a token bucket per tenant, in this process: the limit
// holds per replica. SharedRateLimiter holds it across replicas and falls
// back to this one while Redis cannot answer.
type RateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	now     func() time.Time
}

// NewRateLimiter returns a limiter that reads time from now.
func NewRateLimiter(now func() time.Time) *RateLimiter {
	return &RateLimiter{buckets: map[string]*rate.Limiter{}, now: now}
}

var _ app.Limiter = (*RateLimiter)(nil)

// Allow takes n tokens from t's bucket, or takes none and says how long
// until n are there.
func (l *RateLimiter) Allow(_ context.Context, t *tenant.Tenant, n int) (bool, time.Duration) {
	if t.RatePerSecond <= 0 {
		return true, 0
	}
	l.mu.Lock()
	b, ok := l.buckets[t.ID]
	if !ok {
		b = rate.NewLimiter(rate.Limit(t.RatePerSecond), t.Burst)
		l.buckets[t.ID] = b
	}
	l.mu.Unlock()
	now := l.now()
	if n > t.Burst {
		return false, neverAtOnce(t, n)
	}
	r := b.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// neverAtOnce is the answer for more events than the bucket holds: they
// can never be admitted at once; split into smaller requests, they can after
// this long.
func neverAtOnce(t *tenant.Tenant, n int) time.Duration {
	return time.Duration(math.Ceil(float64(n)/t.RatePerSecond)) * time.Second
}
