package adapters_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bazgasht/bazgasht/platform/redisconn"
	"github.com/bazgasht/bazgasht/platform/redistest"
	"github.com/bazgasht/bazgasht/services/ingest/internal/adapters"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
)

// clock is a settable time for the limiter's fallback pause.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

// admitted counts how many of n single events l admits now.
func admitted(t *testing.T, l interface {
	Allow(context.Context, *tenant.Tenant, int) (bool, time.Duration)
}, tn *tenant.Tenant, n int) int {
	t.Helper()
	got := 0
	for range n {
		if ok, _ := l.Allow(context.Background(), tn, 1); ok {
			got++
		}
	}
	return got
}

// TestSharedLimitHoldsAcrossReplicas: two ingest replicas on one Redis
// admit the tenant's burst once between them, not once each.
func TestSharedLimitHoldsAcrossReplicas(t *testing.T) {
	t.Parallel()
	rc := redistest.Client(t)
	prefix := redistest.Prefix(t, rc)
	rdb, err := redisconn.New(redistest.URL(), redisconn.CacheTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	c := newClock()
	a := adapters.NewSharedRateLimiter(rdb, 5*time.Second, c.now, slog.New(slog.DiscardHandler), adapters.WithLimiterKeyPrefix(prefix))
	b := adapters.NewSharedRateLimiter(rdb, 5*time.Second, c.now, slog.New(slog.DiscardHandler), adapters.WithLimiterKeyPrefix(prefix))
	// One event per 100 s refills nothing while the test runs; the rate is
	// fractional, as a tenants file may give it.
	shop := &tenant.Tenant{ID: "shop-" + prefix[5:17], RatePerSecond: 0.01, Burst: 10}

	if got := admitted(t, a, shop, 6) + admitted(t, b, shop, 6); got != 10 {
		t.Fatalf("two replicas admitted %d events between them, want the burst of 10", got)
	}
	ok, wait := b.Allow(context.Background(), shop, 1)
	if ok || wait < 99*time.Second || wait > 101*time.Second {
		t.Fatalf("over the limit: ok %v, retry after %s; want refused, about 100 s (one event per 100 s)", ok, wait)
	}
	if ok, wait := a.Allow(context.Background(), shop, 11); ok || wait <= 0 {
		t.Fatalf("more events than the burst at once: ok %v, retry after %s; want refused with a wait", ok, wait)
	}
	other := &tenant.Tenant{ID: "other-" + prefix[5:17], RatePerSecond: 0.01, Burst: 10}
	if got := admitted(t, a, other, 3); got != 3 {
		t.Fatalf("another tenant was admitted %d of 3: buckets must be per tenant", got)
	}
}

// TestSharedLimitFallsBackWhileRedisIsDown: with Redis gone each replica
// limits on its own, at once and without errors, and shares again once
// Redis is back.
func TestSharedLimitFallsBackWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	rdb, err := redisconn.New(srv.URL(), redisconn.CacheTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	c := newClock()
	reg := prometheus.NewRegistry()
	l := adapters.NewSharedRateLimiter(rdb, 5*time.Second, c.now, slog.New(slog.DiscardHandler), adapters.WithLimiterMetrics(reg))
	shop := &tenant.Tenant{ID: "shop", RatePerSecond: 0.01, Burst: 4}
	if got := admitted(t, l, shop, 2); got != 2 {
		t.Fatalf("admitted %d of 2 with Redis up", got)
	}
	// A caller that went away is not Redis failing: the limits stay shared.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, _ := l.Allow(gone, shop, 1); ok {
		t.Fatal("a request whose context ended was admitted without a decision")
	}
	if n := fallbackCount(t, reg); n != 0 {
		t.Fatalf("a cancelled request switched the replica to local limits (%v fallback decisions)", n)
	}
	if got := admitted(t, l, shop, 3); got != 2 {
		t.Fatalf("after a cancelled request the replica admitted %d of 3, want the 2 left in the shared bucket", got)
	}
	srv.Kill()
	if got := admitted(t, l, shop, 6); got != 4 {
		t.Fatalf("with Redis down the replica admitted %d of 6, want its own burst of 4", got)
	}
	fallbacks := fallbackCount(t, reg)
	if fallbacks != 6 {
		t.Fatalf("fallback decisions counted %v, want 6", fallbacks)
	}

	srv.Restart() // empty: the shared bucket starts full
	c.advance(6 * time.Second)
	if got := admitted(t, l, shop, 6); got != 4 {
		t.Fatalf("with Redis back the replica admitted %d of 6, want the shared burst of 4", got)
	}
	if n, err := srv.Client().Exists(context.Background(), "rate:bazgasht:ingest:rate:shop").Result(); err != nil || n != 1 {
		t.Fatalf("the shared bucket is not in Redis after it came back (exists %d, err %v)", n, err)
	}
	if after := fallbackCount(t, reg); after != fallbacks {
		t.Fatalf("fallback decisions went from %v to %v with Redis back", fallbacks, after)
	}
}

// fallbackCount reads bazgasht_ingest_rate_limit_fallbacks_total.
func fallbackCount(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "bazgasht_ingest_rate_limit_fallbacks_total" {
		t.Fatalf("metrics: %v, %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}
