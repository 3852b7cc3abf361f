package adapters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/bazgasht/bazgasht/platform/redisconn"
	"github.com/bazgasht/bazgasht/services/profile/internal/app"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// RedisCache keeps hot profiles and the identity index in Redis in front of
// the durable store. Reads go through it; the fold writes every commit
// through it (app.CacheWriter). Redis is only a cache: when it is down or
// slow, reads go to the durable store and writes are remembered, so nothing
// fails and nothing stale is served when Redis returns.
//
// Entries are "v<revision>|<payload>". A conditional write (a Lua script)
// never replaces an entry with an older revision, so a reader that loaded a
// profile before a commit cannot overwrite the commit's write-through,
// whichever reaches Redis first. Keys whose write-through failed are kept
// in memory as dirty: Redis is not trusted for them until a fence
// ("f<revision>", an entry meaning "missing, and nothing older than this may
// be stored") has replaced what Redis holds. Run writes the fences in the
// background; a read of a dirty key writes its own or bypasses Redis.
// A removed profile is fenced for good (tombstone) until the entry expires.
//
// Identity entries carry no profile revision: write-throughs are versioned
// by a per-process clock, and a reader's fill (version 0) only lands on a
// missing entry or on the very fence it saw before loading.
type RedisCache struct {
	rdb      *redis.Client
	ttl      time.Duration
	log      *slog.Logger
	prefix   string
	maxDirty int
	reg      prometheus.Registerer
	// opTimeout bounds every Redis operation: the client's read timeout.
	opTimeout time.Duration

	flights singleflight.Group

	hits, misses, bypasses prometheus.Counter

	mu    sync.Mutex
	dirty map[string]int64 // key -> revision floor; guarded by mu
	// dirtyN mirrors len(dirty) so reads skip the lock when nothing is dirty.
	dirtyN atomic.Int64
	// overflow is set when more than maxDirty keys went dirty: Redis is not
	// trusted at all until Run has emptied the cache.
	overflow atomic.Bool
	// downUntil (unix nanoseconds) skips Redis for a moment after it failed,
	// so an outage costs one timeout per retry interval, not one per call.
	downUntil atomic.Int64
	degraded  atomic.Bool
	version   atomic.Int64 // last identity cacheWrite-through version

	// decoded remembers profiles as last read from Redis, by key, up to
	// maxDecoded: a hit whose entry still has the same revision asks Redis
	// for the entry's first bytes only and is served without decoding the
	// profile again. Remembered profiles are shared by readers: they are
	// complete (derived parts computed) before they are remembered and
	// never changed after.
	decodedMu  sync.Mutex
	decoded    map[string]*profile.Profile
	maxDecoded int
}

var _ app.CacheWriter = (*RedisCache)(nil)

const (
	// cacheRetryInterval is how often dirty keys are retried, and how long Redis
	// is skipped after a failure.
	cacheRetryInterval = 100 * time.Millisecond
	// cacheRepairBatch bounds the fences written per retry.
	cacheRepairBatch = 512
	// cacheDefaultMaxDirty bounds the memory kept for an outage (~150 bytes a key).
	cacheDefaultMaxDirty = 100_000
	// cacheDefaultReadMemory is how many decoded profiles reads keep
	// (about 7 KB each).
	cacheDefaultReadMemory = 10_000
	// cacheHeadLen is how much of an entry is read to learn its revision:
	// "v" and up to 16 digits, then "|".
	cacheHeadLen = 18
	// cacheTombstone is the fence floor of a removed profile: above every
	// revision, and exact in Lua's double-precision numbers.
	cacheTombstone = 1<<53 - 1
)

// CacheOption configures a RedisCache.
type CacheOption func(*RedisCache)

// WithCacheKeyPrefix puts every key under p, so tests sharing a Redis do
// not meet (redistest.Prefix).
func WithCacheKeyPrefix(p string) CacheOption { return func(c *RedisCache) { c.prefix = p } }

// WithCacheMetrics registers bazgasht_profile_cache_requests_total with reg.
func WithCacheMetrics(reg prometheus.Registerer) CacheOption {
	return func(c *RedisCache) { c.reg = reg }
}

// WithCacheReadMemory sets how many decoded profiles are kept in the
// process to serve repeated hits (default 10,000; 0 keeps none).
func WithCacheReadMemory(n int) CacheOption { return func(c *RedisCache) { c.maxDecoded = n } }

// WithCacheMaxDirty sets how many keys may go dirty during an outage before
// the cache stops tracking them one by one and empties itself instead once
// Redis returns (default 100,000).
func WithCacheMaxDirty(n int) CacheOption { return func(c *RedisCache) { c.maxDirty = n } }

// NewRedisCache caches in client, which should come from redisconn.New with
// redisconn.CacheTimeouts, keeping entries for ttl.
func NewRedisCache(client *redis.Client, ttl time.Duration, log *slog.Logger, opts ...CacheOption) (*RedisCache, error) {
	if client == nil || log == nil {
		return nil, errors.New("profile cache: a Redis client and a logger are required")
	}
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("profile cache: TTL %v is below Redis's 1 ms resolution", ttl)
	}
	c := &RedisCache{rdb: client, ttl: ttl, log: log, maxDirty: cacheDefaultMaxDirty, dirty: map[string]int64{},
		opTimeout: client.Options().ReadTimeout, maxDecoded: cacheDefaultReadMemory, decoded: map[string]*profile.Profile{}}
	if c.opTimeout <= 0 {
		c.opTimeout = redisconn.CacheTimeouts.ReadWrite
	}
	for _, o := range opts {
		o(c)
	}
	if c.maxDirty < 1 {
		return nil, fmt.Errorf("profile cache: max dirty keys %d must be positive", c.maxDirty)
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bazgasht_profile_cache_requests_total",
		Help: "Profile and identity cache reads by result: hit (served by Redis), miss (loaded, then cached) or bypass (Redis down, slow or not trusted; loaded).",
	}, []string{"result"})
	if c.reg != nil {
		if err := c.reg.Register(requests); err != nil {
			// are second cache in the process (a restart in tests) counts
			// into the same series.
			var are prometheus.AlreadyRegisteredError
			existing, ok := (*prometheus.CounterVec)(nil), false
			if errors.As(err, &are) {
				existing, ok = are.ExistingCollector.(*prometheus.CounterVec)
			}
			if !ok {
				return nil, fmt.Errorf("profile cache: metrics: %w", err)
			}
			requests = existing
		}
	}
	c.hits, c.misses, c.bypasses = requests.WithLabelValues("hit"), requests.WithLabelValues("miss"), requests.WithLabelValues("bypass")
	return c, nil
}

// Profile returns the profile tenant/id from Redis, or from load (the
// durable store) on a miss, caching it. Concurrent misses of one profile
// share one load. When Redis is down, slow or not trusted for this key, it
// returns what load returns; load's errors, profile.ErrNotFound among them,
// are returned as they are and not cached.
func (c *RedisCache) Profile(ctx context.Context, tenant, id string, load func(context.Context) (*profile.Profile, error)) (*profile.Profile, error) {
	key := c.profileKey(tenant, id)
	if p := c.rememberedProfile(ctx, tenant, key); p != nil {
		c.hits.Inc()
		return p, nil
	}
	p, err := c.readProfile(ctx, tenant, key, load)
	if err == nil && p.Tenant == tenant && p.ID == id {
		c.rememberProfile(key, p)
	}
	return p, err
}

// rememberedProfile returns the profile remembered for key when Redis
// holds the same revision of it, nil otherwise (the caller reads it whole).
func (c *RedisCache) rememberedProfile(ctx context.Context, tenant, key string) *profile.Profile {
	if c.maxDecoded == 0 {
		return nil
	}
	c.decodedMu.Lock()
	p := c.decoded[key]
	c.decodedMu.Unlock()
	if p == nil || !cacheTenantOK(tenant) || !c.trusted(ctx, key) {
		return nil
	}
	octx, cancel := c.bounded(ctx)
	head, err := c.rdb.GetRange(octx, key, 0, cacheHeadLen-1).Result()
	cancel()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.noteErr(ctx, err)
		}
		return nil
	}
	c.noteOK()
	if !strings.HasPrefix(head, cacheEntry(p.Revision, "")) {
		return nil // changed, fenced or gone: read it whole
	}
	return p
}

// rememberProfile keeps p for later hits, its derived parts computed so
// that readers sharing it only read it.
func (c *RedisCache) rememberProfile(key string, p *profile.Profile) {
	if c.maxDecoded == 0 {
		return
	}
	p.Seal()
	c.decodedMu.Lock()
	defer c.decodedMu.Unlock()
	if _, ok := c.decoded[key]; !ok && len(c.decoded) >= c.maxDecoded {
		for k := range c.decoded { // forget one at random
			delete(c.decoded, k)
			break
		}
	}
	c.decoded[key] = p
}

func (c *RedisCache) readProfile(ctx context.Context, tenant, key string, load func(context.Context) (*profile.Profile, error)) (*profile.Profile, error) {
	cd := cacheCodec[*profile.Profile]{
		encode: func(p *profile.Profile) (string, int64, string, error) {
			if p == nil {
				return "", 0, "", errors.New("profile cache: load returned no profile and no error")
			}
			b, err := encodeProfile(p)
			if err != nil {
				return "", 0, "", fmt.Errorf("profile cache: %w", err)
			}
			// at store may answer for a merged-away id with the survivor:
			// cache it under its own key, where its write-throughs go.
			at := ""
			if p.Tenant == tenant {
				at = c.profileKey(tenant, p.ID)
			}
			return cacheEntry(p.Revision, string(b)), p.Revision, at, nil
		},
		decode: func(payload string) (*profile.Profile, error) {
			p, err := decodeProfile([]byte(payload))
			if err != nil {
				return nil, fmt.Errorf("profile cache: decode: %w", err)
			}
			return p, nil
		},
	}
	return cacheReadThrough(ctx, c, tenant, key, cd, load)
}

// Identity returns the id of the profile holding the identity key (a hash,
// profile.Identity.Key) in tenant, from Redis or from load, as Profile does.
func (c *RedisCache) Identity(ctx context.Context, tenant, key string, load func(context.Context) (string, error)) (string, error) {
	k := c.identityKey(tenant, key)
	cd := cacheCodec[string]{
		// A reader's fill has version 0: it never replaces an entry, only
		// fills a missing one or the fence it saw.
		encode: func(id string) (string, int64, string, error) { return cacheEntry(0, id), 0, k, nil },
		decode: func(payload string) (string, error) { return payload, nil },
	}
	return cacheReadThrough(ctx, c, tenant, k, cd, load)
}

// Store writes profiles through to Redis after their commit, as the store
// holds them (their Data; encoded here when it is empty). When Redis cannot
// take one, its key goes dirty and is not trusted until it is fenced.
func (c *RedisCache) Store(ctx context.Context, ps ...profile.Stored) {
	ws := make([]cacheWrite, 0, len(ps))
	for _, s := range ps {
		p := s.Profile
		if p == nil || !cacheTenantOK(p.Tenant) {
			continue
		}
		key := c.profileKey(p.Tenant, p.ID)
		c.forget(key)
		b := s.Data
		if len(b) == 0 {
			var err error
			if b, err = encodeProfile(p); err != nil {
				c.log.Error("profile cache: encode profile", "err", err)
				c.markDirty(key, p.Revision)
				continue
			}
		}
		ws = append(ws, cacheWrite{key: key, rev: p.Revision, value: cacheEntry(p.Revision, string(b))})
	}
	if len(ws) > 0 {
		c.writeThrough(ctx, ws) // one pipeline for a whole batch
	}
}

// Remove drops a profile absorbed into another. It leaves a tombstone, not a
// missing key, so a reader that loaded the profile before the merge cannot
// put it back.
func (c *RedisCache) Remove(ctx context.Context, tenant, id string) {
	if !cacheTenantOK(tenant) {
		return
	}
	key := c.profileKey(tenant, id)
	c.forget(key)
	c.writeThrough(ctx, []cacheWrite{{key: key, rev: cacheTombstone, value: cacheFence(cacheTombstone)}})
}

// StoreIdentities writes identity key -> profile id mappings through to
// Redis in one pipeline.
func (c *RedisCache) StoreIdentities(ctx context.Context, tenant string, index map[string]string) {
	if len(index) == 0 || !cacheTenantOK(tenant) {
		return
	}
	v := c.nextVersion()
	ws := make([]cacheWrite, 0, len(index))
	for k, id := range index {
		key := c.identityKey(tenant, k)
		c.forget(key)
		ws = append(ws, cacheWrite{key: key, rev: v, value: cacheEntry(v, id)})
	}
	c.writeThrough(ctx, ws)
}

// Run fences dirty keys every 100 ms until Redis answers, and empties the
// cache after an overflow. It returns nil when ctx ends.
func (c *RedisCache) Run(ctx context.Context) error {
	t := time.NewTicker(cacheRetryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.repair(ctx)
		}
	}
}

// cacheCodec turns what a load returns into a cache entry and back. encode
// returns the entry, its revision and the key to cache it at ("" for none).
type cacheCodec[T any] struct {
	encode func(T) (value string, rev int64, at string, err error)
	decode func(payload string) (T, error)
}

// cacheFlight is what one shared load produced: the entry, and the loaded value
// itself for a caller that did not share it.
type cacheFlight struct {
	value string
	obj   any
}

// cacheReadThrough serves key from Redis, or loads it: through a shared
// fill ("f"+key) that caches the result, or, when Redis is not to be asked,
// through a shared bypass ("b"+key) that does not.
func cacheReadThrough[T any](ctx context.Context, c *RedisCache, tenant, key string, cd cacheCodec[T], load func(context.Context) (T, error)) (T, error) {
	var zero T
	if !cacheTenantOK(tenant) || !c.trusted(ctx, key) {
		c.bypasses.Inc()
		return cacheShared(ctx, c, "b"+key, cd, func(fctx context.Context) (cacheFlight, error) { return cacheLoadOnly(fctx, cd, load) })
	}
	raw, err := c.get(ctx, key)
	switch {
	case err == nil:
		c.noteOK()
		if payload, ok := cachePayload(raw); ok {
			v, err := cd.decode(payload)
			if err == nil {
				c.hits.Inc()
				return v, nil
			}
			// An entry this version cannot read: drop it and load.
			c.log.Warn("profile cache: dropping an undecodable entry", "err", err)
			octx, cancel := c.bounded(ctx)
			_ = c.rdb.Del(octx, key).Err()
			cancel()
		}
	case errors.Is(err, redis.Nil):
		c.noteOK()
	default:
		c.noteErr(ctx, err)
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		c.bypasses.Inc()
		return cacheShared(ctx, c, "b"+key, cd, func(fctx context.Context) (cacheFlight, error) { return cacheLoadOnly(fctx, cd, load) })
	}
	c.misses.Inc()
	return cacheShared(ctx, c, "f"+key, cd, func(fctx context.Context) (cacheFlight, error) { return cacheFill(fctx, c, key, cd, load) })
}

// cacheShared runs do once for all concurrent callers of one flight key; each
// caller waits only as long as its ctx allows. The load runs with the first
// caller's context values but not its cancellation, since others wait on it.
func cacheShared[T any](ctx context.Context, c *RedisCache, fkey string, cd cacheCodec[T], do func(context.Context) (cacheFlight, error)) (T, error) {
	var zero T
	fctx := context.WithoutCancel(ctx)
	ch := c.flights.DoChan(fkey, func() (any, error) { return do(fctx) })
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		f := r.Val.(cacheFlight)
		// if value handed to several callers is decoded by each, so none
		// sees another's changes to it.
		if v, ok := f.obj.(T); ok && !r.Shared {
			return v, nil
		}
		payload, _ := cachePayload(f.value)
		return cd.decode(payload)
	}
}

// cacheLoadOnly loads without Redis.
func cacheLoadOnly[T any](ctx context.Context, cd cacheCodec[T], load func(context.Context) (T, error)) (cacheFlight, error) {
	v, err := load(ctx)
	if err != nil {
		return cacheFlight{}, err
	}
	value, _, _, err := cd.encode(v)
	if err != nil {
		return cacheFlight{}, err
	}
	return cacheFlight{value: value, obj: v}, nil
}

// cacheFill loads key and caches it. It looks at Redis once more first: a flight
// that just ended may have filled the key. What it sees is the condition of
// its write: a missing entry, or the fence it saw (a fence is written after
// the commit it guards, so what is loaded after seeing it is fresh).
func cacheFill[T any](ctx context.Context, c *RedisCache, key string, cd cacheCodec[T], load func(context.Context) (T, error)) (cacheFlight, error) {
	seen, cacheable := "", true
	raw, err := c.get(ctx, key)
	switch {
	case err == nil:
		if payload, ok := cachePayload(raw); ok {
			if _, err := cd.decode(payload); err == nil {
				return cacheFlight{value: raw}, nil
			}
		} else {
			seen = raw
		}
	case errors.Is(err, redis.Nil):
	default:
		c.noteErr(ctx, err)
		cacheable = false
	}
	v, err := load(ctx)
	if err != nil {
		return cacheFlight{}, err
	}
	value, rev, at, err := cd.encode(v)
	if err != nil {
		return cacheFlight{}, err
	}
	if cacheable && at != "" && c.trustedNow(at) {
		if at != key {
			seen = ""
		}
		_ = c.put(ctx, at, rev, value, seen)
	}
	return cacheFlight{value: value, obj: v}, nil
}

// cachePutScript sets KEYS[1] to ARGV[2] for ARGV[3] ms unless it holds an entry
// of a revision at least ARGV[1] or a fence above it; an entry equal to
// ARGV[4] (the fence a reader saw) is replaced regardless. It returns 1 when
// it wrote. Lua numbers are doubles: revisions stay below 2^53.
var cachePutScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and not (ARGV[4] ~= '' and cur == ARGV[4]) then
  local rev = tonumber(string.match(cur, '^[vf](%d+)'))
  if rev then
    local new = tonumber(ARGV[1])
    local kind = string.sub(cur, 1, 1)
    if (kind == 'v' and rev >= new) or (kind == 'f' and rev > new) then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// cacheWrite is one conditional write.
type cacheWrite struct {
	key   string
	rev   int64
	value string
}

// put runs one conditional write.
func (c *RedisCache) put(ctx context.Context, key string, rev int64, value, seen string) error {
	octx, cancel := c.bounded(ctx)
	err := cachePutScript.Run(octx, c.rdb, []string{key}, rev, value, c.ttl.Milliseconds(), seen).Err()
	cancel()
	if err != nil {
		c.noteErr(ctx, err)
		return err
	}
	c.noteOK()
	return nil
}

// putMany runs conditional writes in one pipeline and returns each one's
// error.
func (c *RedisCache) putMany(ctx context.Context, ws []cacheWrite) []error {
	errs := make([]error, len(ws))
	octx, cancel := c.bounded(ctx)
	defer cancel()
	for attempt := 0; attempt < 2; attempt++ {
		cmds, _ := c.rdb.Pipelined(octx, func(p redis.Pipeliner) error {
			for _, w := range ws {
				cachePutScript.EvalSha(octx, p, []string{w.key}, w.rev, w.value, c.ttl.Milliseconds(), "")
			}
			return nil
		})
		noScript := false
		for i := range errs {
			errs[i] = errors.New("profile cache: pipeline not run")
			if i < len(cmds) {
				errs[i] = cmds[i].Err()
			}
			if isNoScript(errs[i]) {
				noScript = true
			}
		}
		// if restarted Redis has forgotten the script: load it and go again.
		if !noScript || cachePutScript.Load(octx, c.rdb).Err() != nil {
			break
		}
	}
	var first error
	for _, err := range errs {
		if err != nil {
			first = err
			break
		}
	}
	if first != nil {
		c.noteErr(ctx, first)
	} else {
		c.noteOK()
	}
	return errs
}

func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}

// writeThrough runs write-throughs; those Redis does not confirm make their keys
// dirty.
func (c *RedisCache) writeThrough(ctx context.Context, ws []cacheWrite) {
	if c.overflow.Load() {
		return // the whole cache is emptied before it is trusted again
	}
	if !c.redisUp() {
		for _, w := range ws {
			c.markDirty(w.key, w.rev)
		}
		return
	}
	var errs []error
	if len(ws) == 1 {
		errs = []error{c.put(ctx, ws[0].key, ws[0].rev, ws[0].value, "")}
	} else {
		errs = c.putMany(ctx, ws)
	}
	for i, err := range errs {
		if err != nil {
			c.markDirty(ws[i].key, ws[i].rev)
		}
	}
}

// trusted reports whether Redis may be asked for key: it is up, and key is
// not dirty or has just been fenced.
func (c *RedisCache) trusted(ctx context.Context, key string) bool {
	if c.overflow.Load() || !c.redisUp() {
		return false
	}
	floor, dirty := c.dirtyFloor(key)
	if !dirty {
		return true
	}
	if c.put(ctx, key, floor, cacheFence(floor), "") != nil {
		return false
	}
	c.clearDirty(key, floor)
	return true
}

// trustedNow is trusted without fencing: a dirty key is not trusted.
func (c *RedisCache) trustedNow(key string) bool {
	if c.overflow.Load() || !c.redisUp() {
		return false
	}
	_, dirty := c.dirtyFloor(key)
	return !dirty
}

func (c *RedisCache) dirtyFloor(key string) (int64, bool) {
	if c.dirtyN.Load() == 0 {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	floor, ok := c.dirty[key]
	return floor, ok
}

// markDirty remembers that Redis may hold key older than rev.
func (c *RedisCache) markDirty(key string, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.overflow.Load() {
		return
	}
	if floor, ok := c.dirty[key]; ok {
		c.dirty[key] = max(floor, rev)
		return
	}
	if len(c.dirty) >= c.maxDirty {
		c.overflow.Store(true)
		c.dirty = map[string]int64{}
		c.dirtyN.Store(0)
		c.log.Warn("profile cache: too many changes missed Redis; it will be emptied when it answers", "max_dirty", c.maxDirty)
		return
	}
	c.dirty[key] = rev
	c.dirtyN.Store(int64(len(c.dirty)))
}

// clearDirty forgets key once Redis holds a fence of floor, unless a later
// write-through has failed since.
func (c *RedisCache) clearDirty(key string, floor int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.dirty[key]; ok && f <= floor {
		delete(c.dirty, key)
		c.dirtyN.Store(int64(len(c.dirty)))
	}
}

// repair is one round of Run.
func (c *RedisCache) repair(ctx context.Context) {
	if !c.redisUp() {
		return
	}
	if c.overflow.Load() {
		if err := c.flush(ctx); err != nil {
			c.noteErr(ctx, err)
			return
		}
		c.mu.Lock()
		c.overflow.Store(false)
		c.mu.Unlock()
		c.log.Info("profile cache: emptied after an outage; in use again")
		return
	}
	if c.dirtyN.Load() == 0 {
		return
	}
	c.mu.Lock()
	ws := make([]cacheWrite, 0, min(len(c.dirty), cacheRepairBatch))
	for k, floor := range c.dirty {
		if len(ws) == cacheRepairBatch {
			break
		}
		ws = append(ws, cacheWrite{key: k, rev: floor, value: cacheFence(floor)})
	}
	c.mu.Unlock()
	for i, err := range c.putMany(ctx, ws) {
		if err == nil {
			c.clearDirty(ws[i].key, ws[i].rev)
		}
	}
}

// flush deletes every entry under the cache's prefix.
func (c *RedisCache) flush(ctx context.Context) error {
	for _, kind := range []string{"bz:profile:", "bz:ident:"} {
		match := scanPatternEscape(c.prefix+kind) + "*"
		var cursor uint64
		for {
			octx, cancel := c.bounded(ctx)
			keys, next, err := c.rdb.Scan(octx, cursor, match, 1000).Result()
			if err == nil && len(keys) > 0 {
				err = c.rdb.Unlink(octx, keys...).Err()
			}
			cancel()
			if err != nil {
				return err
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return nil
}

func scanPatternEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// get reads key within the operation timeout.
func (c *RedisCache) get(ctx context.Context, key string) (string, error) {
	octx, cancel := c.bounded(ctx)
	defer cancel()
	return c.rdb.Get(octx, key).Result()
}

// bounded limits one Redis operation to opTimeout. The client's own
// timeouts bound each network step, but go-redis retries a failed dial with
// a backoff (five attempts, ~400 ms against a closed port): the deadline
// cuts that short.
func (c *RedisCache) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opTimeout)
}

func (c *RedisCache) redisUp() bool { return time.Now().UnixNano() >= c.downUntil.Load() }

// noteErr skips Redis for a moment after it failed; a caller that gave up
// says nothing about Redis.
func (c *RedisCache) noteErr(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	c.downUntil.Store(time.Now().Add(cacheRetryInterval).UnixNano())
	if c.degraded.CompareAndSwap(false, true) {
		c.log.Warn("profile cache: Redis unreachable; reading from the durable store", "err", err)
	}
}

func (c *RedisCache) noteOK() {
	if c.degraded.Load() && c.degraded.CompareAndSwap(true, false) {
		c.log.Info("profile cache: Redis reachable again")
	}
}

// forget makes later reads of key start their own load rather than join
// one that may have started before the commit being written.
func (c *RedisCache) forget(key string) {
	c.flights.Forget("f" + key)
	c.flights.Forget("b" + key)
}

// nextVersion orders identity write-throughs: microseconds, strictly
// increasing within the process, above 0 (a reader's fill) and below 2^53.
func (c *RedisCache) nextVersion() int64 {
	now := time.Now().UnixMicro()
	for {
		last := c.version.Load()
		v := max(now, last+1)
		if c.version.CompareAndSwap(last, v) {
			return v
		}
	}
}

func (c *RedisCache) profileKey(tenant, id string) string {
	return c.prefix + "bz:profile:" + tenant + ":" + id
}

func (c *RedisCache) identityKey(tenant, key string) string {
	return c.prefix + "bz:ident:" + tenant + ":" + key
}

// cacheTenantOK refuses a tenant that could make two tenants' keys meet
// ("a:b" + "c" and "a" + "b:c"); tenant names never hold a colon.
func cacheTenantOK(tenant string) bool { return tenant != "" && !strings.Contains(tenant, ":") }

func cacheEntry(rev int64, payload string) string {
	return "v" + strconv.FormatInt(rev, 10) + "|" + payload
}

func cacheFence(floor int64) string { return "f" + strconv.FormatInt(floor, 10) }

// cachePayload returns the payload of an entry; a fence has none.
func cachePayload(raw string) (string, bool) {
	if !strings.HasPrefix(raw, "v") {
		return "", false
	}
	i := strings.IndexByte(raw, '|')
	if i < 0 {
		return "", false
	}
	return raw[i+1:], true
}
