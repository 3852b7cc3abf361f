// Package redistest gives tests a real Redis server: the one at REDIS_URL
// (default 127.0.0.1:6379), started with the installed redis-server when it
// is not running. A test that cannot get one fails with the reason; it never
// skips.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var startOnce sync.Once

// URL returns the Redis URL tests use.
func URL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Client returns a client of the real Redis, starting the server once per
// test binary if needed.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatalf("redistest: REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	if ping(c) == nil {
		return c
	}
	startOnce.Do(func() { start(t) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(c)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: no Redis at %s and could not start one (install redis-server, or set REDIS_URL): %v", URL(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ping(c *redis.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

func start(t testing.TB) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Logf("redistest: redis-server is not installed: %v", err)
		return
	}
	out, err := exec.Command(path, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no").CombinedOutput()
	if err != nil {
		t.Logf("redistest: starting redis-server: %v: %s", err, out)
	}
}

// Prefix returns a key prefix unique to this test; keys under it are
// deleted when the test ends, so tests sharing one Redis never meet.
func Prefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}
