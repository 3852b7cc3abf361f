package adapters

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
)

// RateLimiter is a token bucket per tenant, in this process. Each ingest
// replica enforces the limit on its own share of the traffic.
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
func (l *RateLimiter) Allow(t *tenant.Tenant, n int) (bool, time.Duration) {
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
		// More than the bucket holds can never be admitted at once.
		return false, time.Duration(math.Ceil(float64(n)/t.RatePerSecond)) * time.Second
	}
	r := b.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
