package redisconn_test

import (
	"context"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/redisconn"
	"github.com/bazgasht/bazgasht/platform/redistest"
)

func TestCacheClientTalksToRealRedis(t *testing.T) {
	t.Parallel()
	admin := redistest.Client(t)
	prefix := redistest.Prefix(t, admin)
	c, err := redisconn.New(redistest.URL(), redisconn.CacheTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, prefix+"k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := admin.Get(ctx, prefix+"k").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
}

func TestCacheClientGivesUpFastWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: the dial fails, and the caller must learn it
	// within the cache timeouts, not go-redis's multi-second defaults.
	c, err := redisconn.New("redis://127.0.0.1:1/0", redisconn.CacheTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.Get(context.Background(), "k").Err(); err == nil {
		t.Fatal("GET against a closed port succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("GET against a closed port took %v; the cache path must fail fast", d)
	}
}
