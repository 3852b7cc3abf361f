// Package redisconn opens Redis clients meant for a cache: short timeouts and
// no retries, so an outage costs a caller milliseconds, not seconds, and the
// caller falls back to its durable store.
package redisconn

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timeouts bound every call to Redis.
type Timeouts struct {
	// Dial bounds opening a connection.
	Dial time.Duration
	// ReadWrite bounds one command's network I/O.
	ReadWrite time.Duration
}

// CacheTimeouts are the defaults for a cache on the same network: a slow
// Redis is treated as a missing one after 50 ms.
var CacheTimeouts = Timeouts{Dial: 100 * time.Millisecond, ReadWrite: 50 * time.Millisecond}

// New returns a client for url (redis://host:port/db) with t.
func New(url string, t Timeouts) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisconn: REDIS_URL: %w", err)
	}
	opt.DialTimeout = t.Dial
	opt.ReadTimeout = t.ReadWrite
	opt.WriteTimeout = t.ReadWrite
	opt.PoolTimeout = t.ReadWrite
	opt.MaxRetries = -1   // go-redis: -1 disables command retries
	opt.DialerRetries = 1 // and one dial attempt, not five 100 ms apart
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}
