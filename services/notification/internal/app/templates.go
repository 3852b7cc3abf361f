package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
)

// Templates manages tenants' templates over the shipped defaults: a default
// is every tenant's version 1 of its id until the tenant updates it.
type Templates struct {
	store    TemplateStore
	defaults map[string]template.Template
	now      func() time.Time
	// cache keeps resolved templates for cacheTTL: every notification
	// resolves its template, and most use the same few. A change made on
	// another replica is seen within the TTL; one made here at once.
	mu    sync.Mutex
	cache map[string]cachedTemplate
}

type cachedTemplate struct {
	t       *template.Template
	expires time.Time
}

// cacheTTL bounds how stale a resolved template may be.
const cacheTTL = 2 * time.Second

// NewTemplates serves store's templates over defaults.
func NewTemplates(store TemplateStore, defaults []template.Template, now func() time.Time) (*Templates, error) {
	if store == nil || now == nil {
		return nil, errors.New("templates: a store and a clock are required")
	}
	m := map[string]template.Template{}
	for _, t := range defaults {
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("default template %s: %w", t.ID, err)
		}
		t.Version, t.Default = 1, true
		m[t.ID] = t
	}
	return &Templates{store: store, defaults: m, now: now, cache: map[string]cachedTemplate{}}, nil
}

// ErrDefaultExists is returned creating a template whose id is a default's:
// UpdateTemplate customises a default.
var ErrDefaultExists = errors.New("a default template has this id; update it to customise it")

// Resolve returns the template a notification renders: the tenant's own at
// version (current when 0), else the default.
func (t *Templates) Resolve(ctx context.Context, tenant, id string, version int) (*template.Template, error) {
	key := tenant + "/" + id + "/" + strconv.Itoa(version)
	now := time.Now()
	t.mu.Lock()
	hit, ok := t.cache[key]
	t.mu.Unlock()
	if ok && now.Before(hit.expires) {
		return hit.t, nil
	}
	tpl, err := t.resolve(ctx, tenant, id, version)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if len(t.cache) > 10_000 {
		clear(t.cache)
	}
	t.cache[key] = cachedTemplate{t: tpl, expires: now.Add(cacheTTL)}
	t.mu.Unlock()
	return tpl, nil
}

// forget drops a tenant's cached template after a change made here.
func (t *Templates) forget(tenant, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.cache {
		if strings.HasPrefix(k, tenant+"/"+id+"/") {
			delete(t.cache, k)
		}
	}
}

func (t *Templates) resolve(ctx context.Context, tenant, id string, version int) (*template.Template, error) {
	own, err := t.store.Get(ctx, tenant, id, version)
	if err == nil {
		return own, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if d, ok := t.defaults[id]; ok && (version == 0 || version == 1) {
		return &d, nil
	}
	return nil, ErrNotFound
}

// Create stores a new template as version 1.
func (t *Templates) Create(ctx context.Context, tenant string, tpl template.Template) (*template.Template, error) {
	if err := tpl.Validate(); err != nil {
		return nil, err
	}
	if _, ok := t.defaults[tpl.ID]; ok {
		return nil, ErrDefaultExists
	}
	tpl.Version, tpl.UpdatedAt, tpl.Default = 1, t.now().UTC(), false
	if err := t.store.Put(ctx, tenant, &tpl, 0); err != nil {
		return nil, err
	}
	t.forget(tenant, tpl.ID)
	return &tpl, nil
}

// Update stores tpl as the next version; expected, when not 0, must be the
// current version, else ErrConflict.
func (t *Templates) Update(ctx context.Context, tenant string, tpl template.Template, expected int) (*template.Template, error) {
	if err := tpl.Validate(); err != nil {
		return nil, err
	}
	cur, err := t.resolve(ctx, tenant, tpl.ID, 0)
	if err != nil {
		return nil, err
	}
	if expected != 0 && expected != cur.Version {
		return nil, fmt.Errorf("%w: the current version is %d, not %d", ErrConflict, cur.Version, expected)
	}
	prev := cur.Version
	if cur.Default {
		prev = 0 // the tenant has no record of its own yet
	}
	tpl.Version, tpl.UpdatedAt, tpl.Default = cur.Version+1, t.now().UTC(), false
	if err := t.store.Put(ctx, tenant, &tpl, prev); err != nil {
		if errors.Is(err, ErrExists) {
			err = ErrConflict
		}
		return nil, err
	}
	t.forget(tenant, tpl.ID)
	return &tpl, nil
}

// List returns the current version of every template the tenant can use,
// its own and the defaults it has not replaced, by id, filtered by channel
// when ch is set.
func (t *Templates) List(ctx context.Context, tenant string, ch notification.Channel) ([]*template.Template, error) {
	own, err := t.store.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	byID := map[string]*template.Template{}
	for _, o := range own {
		byID[o.ID] = o
	}
	for id, d := range t.defaults {
		if byID[id] == nil {
			byID[id] = &d
		}
	}
	out := make([]*template.Template, 0, len(byID))
	for _, x := range byID {
		if ch == "" || slices.Contains(x.Channels(), ch) {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b *template.Template) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out, nil
}
