package adapters_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/redisconn"
	"github.com/bazgasht/bazgasht/platform/redistest"
	"github.com/bazgasht/bazgasht/services/profile/internal/adapters"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

const cacheTTL = time.Minute

// durableStore stands in for the profile store: what it holds is the truth,
// and it counts how often the cache had to ask it.
type durableStore struct {
	mu       sync.Mutex
	profiles map[string][]byte // "<tenant>/<id>" -> JSON
	idents   map[string]string // "<tenant>/<key>" -> profile id
	loads    atomic.Int64
}

func newDurableStore() *durableStore {
	return &durableStore{profiles: map[string][]byte{}, idents: map[string]string{}}
}

// commit writes p, as the fold's durable commit does before it tells the
// cache.
func (s *durableStore) commit(t *testing.T, p *profile.Profile) {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.profiles[p.Tenant+"/"+p.ID] = b
}

func (s *durableStore) delete(tenant, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.profiles, tenant+"/"+id)
}

func (s *durableStore) link(tenant, key, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idents[tenant+"/"+key] = id
}

// profile returns the load function the service would pass for tenant/id.
func (s *durableStore) profile(tenant, id string) func(context.Context) (*profile.Profile, error) {
	return func(context.Context) (*profile.Profile, error) {
		s.loads.Add(1)
		s.mu.Lock()
		b, ok := s.profiles[tenant+"/"+id]
		s.mu.Unlock()
		if !ok {
			return nil, profile.ErrNotFound
		}
		p := new(profile.Profile)
		if err := json.Unmarshal(b, p); err != nil {
			return nil, err
		}
		return p, nil
	}
}

func (s *durableStore) identity(tenant, key string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		s.loads.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		id, ok := s.idents[tenant+"/"+key]
		if !ok {
			return "", profile.ErrNotFound
		}
		return id, nil
	}
}

func atRevision(tenant, id string, r int64) *profile.Profile {
	p := profile.New(tenant, id)
	p.Revision = r
	return p
}

// cacheEnv is a cache under test with what a test looks at.
type cacheEnv struct {
	cache  *adapters.RedisCache
	admin  *redis.Client // the test's own view of Redis
	prefix string
	reg    *prometheus.Registry
	store  *durableStore
}

func (e cacheEnv) profileKey(tenant, id string) string {
	return e.prefix + "bz:profile:" + tenant + ":" + id
}
func (e cacheEnv) identKey(tenant, key string) string {
	return e.prefix + "bz:ident:" + tenant + ":" + key
}

// sharedCacheEnv is a cache on the shared test Redis, its keys under a prefix of
// this test.
func sharedCacheEnv(t *testing.T, opts ...adapters.CacheOption) cacheEnv {
	t.Helper()
	admin := redistest.Client(t)
	prefix := redistest.Prefix(t, admin)
	// These tests check what the cache holds when Redis answers; generous
	// timeouts keep a loaded test machine from turning a slow answer into
	// a (correct, but here unwanted) fallback.
	return newCacheEnv(t, redistest.URL(), admin, prefix, redisconn.Timeouts{Dial: time.Second, ReadWrite: time.Second}, opts...)
}

// dedicatedCacheEnv is a cache on a redis-server of this test alone, to kill.
func dedicatedCacheEnv(t *testing.T, opts ...adapters.CacheOption) (cacheEnv, *redistest.Server) {
	t.Helper()
	srv := redistest.StartServer(t)
	return newCacheEnv(t, srv.URL(), srv.Client(), "", redisconn.CacheTimeouts, opts...), srv
}

func newCacheEnv(t *testing.T, url string, admin *redis.Client, prefix string, timeouts redisconn.Timeouts, opts ...adapters.CacheOption) cacheEnv {
	t.Helper()
	client, err := redisconn.New(url, timeouts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	reg := prometheus.NewRegistry()
	opts = append([]adapters.CacheOption{adapters.WithCacheKeyPrefix(prefix), adapters.WithCacheMetrics(reg)}, opts...)
	cache, err := adapters.NewRedisCache(client, cacheTTL, slog.New(slog.NewTextHandler(t.Output(), nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cacheEnv{cache: cache, admin: admin, prefix: prefix, reg: reg, store: newDurableStore()}
}

// requests reads bazgasht_profile_cache_requests_total{result}; it fails the
// test if the metric carries any other label.
func (e cacheEnv) requests(t *testing.T, result string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bazgasht_profile_cache_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := m.GetLabel()
			if len(labels) != 1 || labels[0].GetName() != "result" {
				t.Fatalf("cache requests carry labels %v; want only result", labels)
			}
			if labels[0].GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// readProfile reads tenant/id through the cache, failing the test if the
// call takes a second or more: an outage must cost milliseconds.
func (e cacheEnv) readProfile(t *testing.T, tenant, id string) (*profile.Profile, error) {
	t.Helper()
	start := time.Now()
	p, err := e.cache.Profile(context.Background(), tenant, id, e.store.profile(tenant, id))
	if d := time.Since(start); d >= time.Second {
		t.Fatalf("Profile(%s, %s) took %v; a Redis outage must not hang readers", tenant, id, d)
	}
	return p, err
}

func (e cacheEnv) readIdentity(t *testing.T, tenant, key string) (string, error) {
	t.Helper()
	start := time.Now()
	id, err := e.cache.Identity(context.Background(), tenant, key, e.store.identity(tenant, key))
	if d := time.Since(start); d >= time.Second {
		t.Fatalf("Identity(%s, %s) took %v; a Redis outage must not hang readers", tenant, key, d)
	}
	return id, err
}

// withinASecond fails the test if f takes a second or more.
func withinASecond(t *testing.T, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d >= time.Second {
		t.Fatalf("%s took %v; a Redis outage must not hang the fold", what, d)
	}
}

func wantRevision(t *testing.T, p *profile.Profile, err error, want int64) {
	t.Helper()
	if err != nil {
		t.Fatalf("read: %v; want revision %d", err, want)
	}
	if p.Revision != want {
		t.Fatalf("read revision %d; want %d", p.Revision, want)
	}
}

// pollFor polls cond until it holds or 5 s pass.
func pollFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, 5*time.Second, what, cond)
}

func TestNewRedisCacheChecksDependencies(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() })
	log := slog.New(slog.DiscardHandler)
	cases := []struct {
		name   string
		client *redis.Client
		ttl    time.Duration
		log    *slog.Logger
		opts   []adapters.CacheOption
	}{
		{name: "no client", ttl: time.Minute, log: log},
		{name: "no logger", client: client, ttl: time.Minute},
		{name: "no TTL", client: client, log: log},
		{name: "TTL below a millisecond", client: client, ttl: time.Microsecond, log: log},
		{name: "no room for dirty keys", client: client, ttl: time.Minute, log: log, opts: []adapters.CacheOption{adapters.WithCacheMaxDirty(0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := adapters.NewRedisCache(tc.client, tc.ttl, tc.log, tc.opts...); err == nil {
				t.Fatal("NewRedisCache accepted it")
			}
		})
	}
}

func TestProfileReadThrough(t *testing.T) {
	t.Parallel()
	storeDown := errors.New("store unavailable")
	cases := []struct {
		name       string
		stored     *profile.Profile
		loadErr    error
		wantErr    error
		wantLoads  int64
		wantCached bool
		wantHits   float64
	}{
		{name: "a miss loads and caches; the next read is a hit", stored: atRevision("shop-a", "p_1", 3), wantLoads: 1, wantCached: true, wantHits: 1},
		{name: "not found is returned as is and not cached", wantErr: profile.ErrNotFound, wantLoads: 2},
		{name: "a failing store is returned as is and not cached", loadErr: storeDown, wantErr: storeDown, wantLoads: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := sharedCacheEnv(t)
			if tc.stored != nil {
				e.store.commit(t, tc.stored)
			}
			load := e.store.profile("shop-a", "p_1")
			if tc.loadErr != nil {
				load = func(context.Context) (*profile.Profile, error) { e.store.loads.Add(1); return nil, tc.loadErr }
			}
			for i := range 2 {
				p, err := e.cache.Profile(context.Background(), "shop-a", "p_1", load)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) || p != nil {
						t.Fatalf("read %d = %v, %v; want %v", i, p, err, tc.wantErr)
					}
					continue
				}
				wantRevision(t, p, err, tc.stored.Revision)
				if p.ID != "p_1" || p.Tenant != "shop-a" {
					t.Fatalf("read %d = %s/%s; want shop-a/p_1", i, p.Tenant, p.ID)
				}
			}
			if got := e.store.loads.Load(); got != tc.wantLoads {
				t.Errorf("store loads = %d; want %d", got, tc.wantLoads)
			}
			ttl, err := e.admin.PTTL(context.Background(), e.profileKey("shop-a", "p_1")).Result()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantCached && (ttl <= 0 || ttl > cacheTTL):
				t.Errorf("cached entry TTL = %v; want in (0, %v]", ttl, cacheTTL)
			case !tc.wantCached && ttl != -2*time.Nanosecond: // go-redis: -2 ns for a missing key
				t.Errorf("entry exists (TTL %v); want nothing cached", ttl)
			}
			if got := e.requests(t, "hit"); got != tc.wantHits {
				t.Errorf("hits = %v; want %v", got, tc.wantHits)
			}
			if got, want := e.requests(t, "miss"), 2-tc.wantHits; got != want {
				t.Errorf("misses = %v; want %v", got, want)
			}
		})
	}
}

func TestIdentityReadThrough(t *testing.T) {
	t.Parallel()
	key := profile.Identity{Kind: profile.Email, Value: "sara@example.com"}.Key()
	cases := []struct {
		name       string
		linked     string
		wantErr    error
		wantLoads  int64
		wantCached bool
	}{
		{name: "a miss loads and caches; the next read is a hit", linked: "p_1", wantLoads: 1, wantCached: true},
		{name: "an unknown identity is not found and not cached", wantErr: profile.ErrNotFound, wantLoads: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := sharedCacheEnv(t)
			if tc.linked != "" {
				e.store.link("shop-a", key, tc.linked)
			}
			for i := range 2 {
				id, err := e.readIdentity(t, "shop-a", key)
				if !errors.Is(err, tc.wantErr) || id != tc.linked {
					t.Fatalf("read %d = %q, %v; want %q, %v", i, id, err, tc.linked, tc.wantErr)
				}
			}
			if got := e.store.loads.Load(); got != tc.wantLoads {
				t.Errorf("store loads = %d; want %d", got, tc.wantLoads)
			}
			n, err := e.admin.Exists(context.Background(), e.identKey("shop-a", key)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if cached := n == 1; cached != tc.wantCached {
				t.Errorf("identity cached = %v; want %v", cached, tc.wantCached)
			}
		})
	}
}

func TestConcurrentMissesOfOneProfileLoadOnce(t *testing.T) {
	t.Parallel()
	e := sharedCacheEnv(t)
	e.store.commit(t, atRevision("shop-a", "p_1", 5))
	const readers = 50
	var started sync.WaitGroup
	started.Add(readers)
	release := make(chan struct{})
	go func() { started.Wait(); close(release) }()
	load := func(ctx context.Context) (*profile.Profile, error) {
		<-release // hold the load until every reader has asked
		return e.store.profile("shop-a", "p_1")(ctx)
	}
	errs := make(chan error, readers)
	for range readers {
		go func() {
			started.Done()
			p, err := e.cache.Profile(context.Background(), "shop-a", "p_1", load)
			if err == nil && p.Revision != 5 {
				err = fmt.Errorf("revision %d; want 5", p.Revision)
			}
			errs <- err
		}()
	}
	for range readers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := e.store.loads.Load(); got != 1 {
		t.Errorf("%d concurrent misses loaded %d times; want 1", readers, got)
	}
}

func TestWriteThroughKeepsReadersCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	email := profile.Identity{Kind: profile.Email, Value: "sara@example.com"}.Key()
	cases := []struct {
		name string
		run  func(t *testing.T, e cacheEnv)
	}{
		{name: "Store makes the next read return the new revision without a load", run: func(t *testing.T, e cacheEnv) {
			e.store.commit(t, atRevision("shop-a", "p_1", 1))
			p, err := e.readProfile(t, "shop-a", "p_1")
			wantRevision(t, p, err, 1)
			e.store.commit(t, atRevision("shop-a", "p_1", 2))
			e.cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", "p_1", 2)})
			p, err = e.readProfile(t, "shop-a", "p_1")
			wantRevision(t, p, err, 2)
			if got := e.store.loads.Load(); got != 1 {
				t.Errorf("store loads = %d; want 1 (the first miss only)", got)
			}
		}},
		{name: "Remove makes the next read load", run: func(t *testing.T, e cacheEnv) {
			e.store.commit(t, atRevision("shop-a", "p_1", 1))
			p, err := e.readProfile(t, "shop-a", "p_1")
			wantRevision(t, p, err, 1)
			e.store.delete("shop-a", "p_1") // absorbed into another profile
			e.cache.Remove(ctx, "shop-a", "p_1")
			for range 2 {
				if p, err := e.readProfile(t, "shop-a", "p_1"); !errors.Is(err, profile.ErrNotFound) {
					t.Fatalf("read after Remove = %v, %v; want ErrNotFound", p, err)
				}
			}
			if got := e.store.loads.Load(); got != 3 {
				t.Errorf("store loads = %d; want 3 (every read after Remove loads)", got)
			}
		}},
		{name: "an older revision stored after a newer one is ignored", run: func(t *testing.T, e cacheEnv) {
			e.cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", "p_1", 3)})
			e.cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", "p_1", 2)})
			p, err := e.readProfile(t, "shop-a", "p_1")
			wantRevision(t, p, err, 3)
			if got := e.store.loads.Load(); got != 0 {
				t.Errorf("store loads = %d; want 0", got)
			}
		}},
		{name: "StoreIdentities makes the next read return the new profile id without a load", run: func(t *testing.T, e cacheEnv) {
			e.store.link("shop-a", email, "p_anon")
			if id, err := e.readIdentity(t, "shop-a", email); err != nil || id != "p_anon" {
				t.Fatalf("read = %q, %v; want p_anon", id, err)
			}
			e.store.link("shop-a", email, "p_known") // merged into the known customer
			e.cache.StoreIdentities(ctx, "shop-a", map[string]string{email: "p_known"})
			if id, err := e.readIdentity(t, "shop-a", email); err != nil || id != "p_known" {
				t.Fatalf("read = %q, %v; want p_known", id, err)
			}
			if got := e.store.loads.Load(); got != 1 {
				t.Errorf("store loads = %d; want 1", got)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, sharedCacheEnv(t))
		})
	}
}

// A reader that loaded a profile just before a commit must not put the old
// version back after the commit's write-through.
func TestSlowReaderCannotOverwriteACommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	email := profile.Identity{Kind: profile.Email, Value: "sara@example.com"}.Key()
	cases := []struct {
		name      string
		run       func(t *testing.T, e cacheEnv)
		wantLoads int64
	}{
		{name: "profile", wantLoads: 1, run: func(t *testing.T, e cacheEnv) {
			e.store.commit(t, atRevision("shop-a", "p_1", 1))
			old := e.store.profile("shop-a", "p_1")
			slow := func(ctx context.Context) (*profile.Profile, error) {
				p, err := old(ctx) // read before the commit...
				e.store.commit(t, atRevision("shop-a", "p_1", 2))
				e.cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", "p_1", 2)}) // ...which lands first
				return p, err
			}
			p, err := e.cache.Profile(ctx, "shop-a", "p_1", slow)
			wantRevision(t, p, err, 1) // concurrent with the commit: either is right
			p, err = e.readProfile(t, "shop-a", "p_1")
			wantRevision(t, p, err, 2)
		}},
		{name: "removed profile", wantLoads: 2, run: func(t *testing.T, e cacheEnv) {
			e.store.commit(t, atRevision("shop-a", "p_1", 1))
			old := e.store.profile("shop-a", "p_1")
			slow := func(ctx context.Context) (*profile.Profile, error) {
				p, err := old(ctx)
				e.store.delete("shop-a", "p_1") // merged into another profile
				e.cache.Remove(ctx, "shop-a", "p_1")
				return p, err
			}
			p, err := e.cache.Profile(ctx, "shop-a", "p_1", slow)
			wantRevision(t, p, err, 1)
			if p, err := e.readProfile(t, "shop-a", "p_1"); !errors.Is(err, profile.ErrNotFound) {
				t.Fatalf("next read = %v, %v; want ErrNotFound", p, err)
			}
		}},
		{name: "identity", wantLoads: 1, run: func(t *testing.T, e cacheEnv) {
			e.store.link("shop-a", email, "p_anon")
			old := e.store.identity("shop-a", email)
			slow := func(ctx context.Context) (string, error) {
				id, err := old(ctx)
				e.store.link("shop-a", email, "p_known")
				e.cache.StoreIdentities(ctx, "shop-a", map[string]string{email: "p_known"})
				return id, err
			}
			if id, err := e.cache.Identity(ctx, "shop-a", email, slow); err != nil || id != "p_anon" {
				t.Fatalf("slow read = %q, %v; want p_anon", id, err)
			}
			if id, err := e.readIdentity(t, "shop-a", email); err != nil || id != "p_known" {
				t.Fatalf("next read = %q, %v; want p_known", id, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := sharedCacheEnv(t)
			tc.run(t, e)
			if got := e.store.loads.Load(); got != tc.wantLoads {
				t.Errorf("store loads = %d; want %d", got, tc.wantLoads)
			}
		})
	}
}

func TestTenantsNeverMeet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := sharedCacheEnv(t)
	email := profile.Identity{Kind: profile.Email, Value: "sara@example.com"}.Key()
	// The same profile id and identity in two shops.
	e.store.commit(t, atRevision("shop-a", "p_1", 1))
	e.store.commit(t, atRevision("shop-b", "p_1", 7))
	e.store.link("shop-a", email, "p_a")
	e.store.link("shop-b", email, "p_b")
	for _, tenant := range []string{"shop-a", "shop-b"} {
		_, _ = e.readProfile(t, tenant, "p_1")
		_, _ = e.readIdentity(t, tenant, email)
	}
	e.cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", "p_1", 2)})
	e.cache.StoreIdentities(ctx, "shop-a", map[string]string{email: "p_a2"})

	p, err := e.readProfile(t, "shop-b", "p_1")
	wantRevision(t, p, err, 7)
	if p.Tenant != "shop-b" {
		t.Errorf("shop-b read a profile of %s", p.Tenant)
	}
	if id, err := e.readIdentity(t, "shop-b", email); err != nil || id != "p_b" {
		t.Errorf("shop-b identity = %q, %v; want p_b", id, err)
	}
	e.cache.Remove(ctx, "shop-a", "p_1")
	p, err = e.readProfile(t, "shop-b", "p_1")
	wantRevision(t, p, err, 7)
	for _, key := range []string{e.profileKey("shop-a", "p_1"), e.profileKey("shop-b", "p_1"), e.identKey("shop-a", email), e.identKey("shop-b", email)} {
		if n, err := e.admin.Exists(ctx, key).Result(); err != nil || n != 1 {
			t.Errorf("key %s: exists = %d, %v; want an entry per tenant", key, n, err)
		}
	}
	if got := e.store.loads.Load(); got != 4 {
		t.Errorf("store loads = %d; want 4 (one per tenant and kind)", got)
	}

	// "shop" + "a:p_9" and "shop:a" + "p_9" would share a key; tenant names
	// never hold a colon, and one that does is never cached.
	e.store.commit(t, atRevision("shop", "a:p_9", 1))
	e.store.commit(t, atRevision("shop:a", "p_9", 9))
	for range 2 {
		p, err := e.readProfile(t, "shop", "a:p_9")
		wantRevision(t, p, err, 1)
		p, err = e.readProfile(t, "shop:a", "p_9")
		wantRevision(t, p, err, 9)
	}
}

// The dedicated server is killed while the cache is in use; while it is
// gone a change is committed; it comes back holding the entry from before
// the change (as a replica or a restore would). Readers never see the entry
// from before the change.
func TestRedisKilledMidRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	email := profile.Identity{Kind: profile.Phone, Value: "+989121234567"}.Key()
	type read func(t *testing.T, e cacheEnv) string
	readP1 := func(t *testing.T, e cacheEnv) string {
		p, err := e.readProfile(t, "shop-a", "p_1")
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("revision %d", p.Revision)
	}
	readEmail := func(t *testing.T, e cacheEnv) string {
		id, err := e.readIdentity(t, "shop-a", email)
		if err != nil {
			return err.Error()
		}
		return id
	}
	cases := []struct {
		name        string
		key         func(e cacheEnv) string
		read        read
		setup       func(t *testing.T, e cacheEnv)
		change      func(t *testing.T, e cacheEnv)
		before, now string
		// cacheable: what the change left is cached again once Redis is back.
		cacheable bool
	}{
		{
			name:  "a profile stored during the outage",
			key:   func(e cacheEnv) string { return e.profileKey("shop-a", "p_1") },
			read:  readP1,
			setup: func(t *testing.T, e cacheEnv) { e.store.commit(t, atRevision("shop-a", "p_1", 1)) },
			change: func(t *testing.T, e cacheEnv) {
				e.store.commit(t, atRevision("shop-a", "p_1", 2))
				e.cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", "p_1", 2)})
			},
			before: "revision 1", now: "revision 2", cacheable: true,
		},
		{
			name:   "a profile removed during the outage",
			key:    func(e cacheEnv) string { return e.profileKey("shop-a", "p_1") },
			read:   readP1,
			setup:  func(t *testing.T, e cacheEnv) { e.store.commit(t, atRevision("shop-a", "p_1", 1)) },
			change: func(t *testing.T, e cacheEnv) { e.store.delete("shop-a", "p_1"); e.cache.Remove(ctx, "shop-a", "p_1") },
			before: "revision 1", now: profile.ErrNotFound.Error(),
		},
		{
			name:  "an identity moved during the outage",
			key:   func(e cacheEnv) string { return e.identKey("shop-a", email) },
			read:  readEmail,
			setup: func(t *testing.T, e cacheEnv) { e.store.link("shop-a", email, "p_anon") },
			change: func(t *testing.T, e cacheEnv) {
				e.store.link("shop-a", email, "p_known")
				e.cache.StoreIdentities(ctx, "shop-a", map[string]string{email: "p_known"})
			},
			before: "p_anon", now: "p_known", cacheable: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, srv := dedicatedCacheEnv(t)
			tc.setup(t, e)
			e.store.commit(t, atRevision("shop-a", "p_other", 4)) // unchanged throughout
			for range 2 {
				if got := tc.read(t, e); got != tc.before {
					t.Fatalf("read before the outage = %s; want %s", got, tc.before)
				}
			}
			stale, err := e.admin.Get(ctx, tc.key(e)).Result()
			if err != nil {
				t.Fatalf("the entry was not cached before the outage: %v", err)
			}

			srv.Kill()
			bypassed := e.requests(t, "bypass")
			for i := range 5 {
				if got := tc.read(t, e); got != tc.before {
					t.Fatalf("read %d while Redis is down = %s; want %s from the store", i, got, tc.before)
				}
			}
			if got := e.requests(t, "bypass"); got < bypassed+5 {
				t.Errorf("bypasses while Redis is down = %v; want at least %v", got, bypassed+5)
			}
			withinASecond(t, "a write-through while Redis is down", func() { tc.change(t, e) })
			if got := tc.read(t, e); got != tc.now {
				t.Fatalf("read after the change while Redis is down = %s; want %s", got, tc.now)
			}

			srv.Restart()
			if err := e.admin.Set(ctx, tc.key(e), stale, time.Hour).Err(); err != nil {
				t.Fatalf("planting the stale entry: %v", err)
			}
			hits := e.requests(t, "hit")
			pollFor(t, "reads are hits again and the stale entry is gone", func() bool {
				loads := e.store.loads.Load()
				if got := tc.read(t, e); got != tc.now {
					t.Fatalf("read after Redis returned = %s; want %s, never the stale %s", got, tc.now, tc.before)
				}
				cached := e.store.loads.Load() == loads
				p, err := e.readProfile(t, "shop-a", "p_other")
				wantRevision(t, p, err, 4)
				held, _ := e.admin.Get(ctx, tc.key(e)).Result()
				return e.requests(t, "hit") > hits && held != stale && (cached || !tc.cacheable)
			})
		})
	}
}

// A read that starts after a commit must not be handed the result of a load
// that started before it. Redis is down here, so every read goes to the
// store, sharing loads.
func TestReadAfterCommitDoesNotJoinAnOlderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, err := redisconn.New("redis://127.0.0.1:1/0", redisconn.CacheTimeouts) // nothing listens
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	cache, err := adapters.NewRedisCache(client, cacheTTL, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	store := newDurableStore()
	store.commit(t, atRevision("shop-a", "p_1", 1))

	loaded, release := make(chan struct{}), make(chan struct{})
	early := make(chan *profile.Profile, 1)
	go func() {
		p, _ := cache.Profile(ctx, "shop-a", "p_1", func(ctx context.Context) (*profile.Profile, error) {
			p, err := store.profile("shop-a", "p_1")(ctx)
			close(loaded)
			<-release // still running when the commit happens
			return p, err
		})
		early <- p
	}()
	<-loaded
	store.commit(t, atRevision("shop-a", "p_1", 2))
	cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", "p_1", 2)})

	late := make(chan *profile.Profile, 1)
	go func() {
		p, _ := cache.Profile(ctx, "shop-a", "p_1", store.profile("shop-a", "p_1"))
		late <- p
	}()
	select {
	case p := <-late:
		if p == nil || p.Revision != 2 {
			t.Errorf("read after the commit = %v; want revision 2", p)
		}
	case <-time.After(5 * time.Second):
		t.Error("a read after the commit waited for a load that started before it")
	}
	close(release)
	if p := <-early; p == nil || p.Revision != 1 {
		t.Errorf("read during the commit = %v; want revision 1", p)
	}
}

// Run replaces a stale entry of a key whose write-through failed without
// waiting for a reader.
func TestRunFencesStaleEntriesInTheBackground(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	e, srv := dedicatedCacheEnv(t)
	e.store.commit(t, atRevision("shop-a", "p_1", 1))
	p, err := e.readProfile(t, "shop-a", "p_1")
	wantRevision(t, p, err, 1)
	key := e.profileKey("shop-a", "p_1")
	stale, err := e.admin.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	e.store.commit(t, atRevision("shop-a", "p_1", 2))
	withinASecond(t, "Store while Redis is down", func() { e.cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", "p_1", 2)}) })
	srv.Restart()
	if err := e.admin.Set(ctx, key, stale, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- e.cache.Run(ctx) }()
	pollFor(t, "Run replaces the stale entry", func() bool {
		held, err := e.admin.Get(ctx, key).Result()
		return err == nil && held != stale
	})
	p, err = e.readProfile(t, "shop-a", "p_1")
	wantRevision(t, p, err, 2)
	p, err = e.readProfile(t, "shop-a", "p_1")
	wantRevision(t, p, err, 2)
	if got := e.requests(t, "hit"); got < 1 {
		t.Errorf("hits after Run = %v; want the second read to be a hit", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil when its context ends", err)
	}
}

// A hung Redis (SIGSTOP) answers nothing: reads and writes give up after
// the client timeouts, and the write sent meanwhile runs when it resumes.
func TestRedisHungMidRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, srv := dedicatedCacheEnv(t)
	e.store.commit(t, atRevision("shop-a", "p_1", 1))
	for range 2 {
		p, err := e.readProfile(t, "shop-a", "p_1")
		wantRevision(t, p, err, 1)
	}

	srv.Pause()
	// The write-through times out; it stays queued in the hung server and
	// runs when it resumes.
	e.store.commit(t, atRevision("shop-a", "p_1", 2))
	withinASecond(t, "Store while Redis hangs", func() { e.cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", "p_1", 2)}) })
	for range 3 {
		p, err := e.readProfile(t, "shop-a", "p_1")
		wantRevision(t, p, err, 2)
	}
	if got := e.requests(t, "bypass"); got < 3 {
		t.Errorf("bypasses while Redis hangs = %v; want at least 3", got)
	}

	srv.Resume()
	hits := e.requests(t, "hit")
	pollFor(t, "reads are hits again", func() bool {
		p, err := e.readProfile(t, "shop-a", "p_1")
		wantRevision(t, p, err, 2)
		return e.requests(t, "hit") > hits
	})
}

// More keys go dirty than the cache tracks: it distrusts Redis entirely
// until Run has emptied it.
func TestTooManyMissedWritesEmptyTheCache(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, srv := dedicatedCacheEnv(t, adapters.WithCacheMaxDirty(2))
	ids := []string{"p_1", "p_2", "p_3"}
	stale := map[string]string{}
	for _, id := range ids {
		e.store.commit(t, atRevision("shop-a", id, 1))
		p, err := e.readProfile(t, "shop-a", id)
		wantRevision(t, p, err, 1)
		if stale[id], err = e.admin.Get(ctx, e.profileKey("shop-a", id)).Result(); err != nil {
			t.Fatal(err)
		}
	}

	srv.Kill()
	for _, id := range ids {
		e.store.commit(t, atRevision("shop-a", id, 2))
		withinASecond(t, "Store while Redis is down", func() { e.cache.Store(ctx, profile.Stored{Profile: atRevision("shop-a", id, 2)}) })
	}
	srv.Restart()
	for _, id := range ids {
		if err := e.admin.Set(ctx, e.profileKey("shop-a", id), stale[id], time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		p, err := e.readProfile(t, "shop-a", id)
		wantRevision(t, p, err, 2)
	}

	go func() { _ = e.cache.Run(ctx) }()
	pollFor(t, "the stale entries are gone", func() bool {
		n, err := e.admin.Exists(ctx, e.profileKey("shop-a", "p_1"), e.profileKey("shop-a", "p_2"), e.profileKey("shop-a", "p_3")).Result()
		return err == nil && n == 0
	})
	hits := e.requests(t, "hit")
	pollFor(t, "reads are hits again", func() bool {
		for _, id := range ids {
			p, err := e.readProfile(t, "shop-a", id)
			wantRevision(t, p, err, 2)
		}
		return e.requests(t, "hit") > hits
	})
}
