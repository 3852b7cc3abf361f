package app

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/kpi"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/token"
)

// Config is what the use cases need from the deployment.
type Config struct {
	// PublicURL is where customers reach the response page, such as
	// "https://survey.example.com"; links are PublicURL/s/<token>.
	PublicURL string
	// FatiguePeriod: a customer is invited at most once in it, unless the
	// invitation is transactional.
	FatiguePeriod time.Duration
	// LinkTTL is how long a link lives when the definition does not say.
	LinkTTL time.Duration
	// DefaultLocale is used when neither the request nor the profile has one.
	DefaultLocale string
	// ShopNames are tenants' display names for definitions without one.
	ShopNames map[string]string
	// TapSettle is how long a one-tap score waits before it counts and is
	// published: taps on other scores within it are a mail scanner's.
	TapSettle time.Duration
	// ProfileTimeout bounds a profile read on the page's path.
	ProfileTimeout time.Duration
}

// App is the survey service's use cases.
type App struct {
	cfg      Config
	defs     DefinitionStore
	invs     InvitationStore
	fatigue  FatigueStore
	profiles Profiles
	out      Outbox
	signer   *token.Signer
	index    *kpi.Index
	now      func() time.Time
}

// New returns the use cases over their dependencies.
func New(cfg Config, defs DefinitionStore, invs InvitationStore, fatigue FatigueStore, profiles Profiles, out Outbox, signer *token.Signer, index *kpi.Index, now func() time.Time) (*App, error) {
	if defs == nil || invs == nil || fatigue == nil || profiles == nil || out == nil || signer == nil || index == nil || now == nil {
		return nil, errors.New("app: every dependency is required")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("app: the public URL must be an absolute http(s) URL")
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 30 * 24 * time.Hour
	}
	if cfg.DefaultLocale == "" {
		cfg.DefaultLocale = "fa"
	}
	if cfg.ProfileTimeout <= 0 {
		cfg.ProfileTimeout = 2 * time.Second
	}
	return &App{cfg: cfg, defs: defs, invs: invs, fatigue: fatigue, profiles: profiles, out: out, signer: signer, index: index, now: now}, nil
}

// shortCtx bounds calls made on a customer's behalf.
func shortCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// pageProfileTimeout bounds the profile read on the page's path: the
// segments are a nicety for KPI cuts, the customer should not wait.
const pageProfileTimeout = 500 * time.Millisecond

func checkTenant(t string) error {
	if t == "" {
		return &survey.FieldError{Field: "tenant", Reason: "required"}
	}
	if err := journey.CheckTenant(t); err != nil {
		return &survey.FieldError{Field: "tenant", Reason: err.Error()}
	}
	return nil
}

// TapSettle is how long one-tap scores settle (see Config).
func (a *App) TapSettle() time.Duration { return a.cfg.TapSettle }

// Link is the response page URL of a token.
func (a *App) Link(tok string) string { return a.cfg.PublicURL + "/s/" + tok }

// linkTTL is how long links of d live.
func (a *App) linkTTL(d survey.Definition) time.Duration {
	if d.LinkTTL > 0 {
		return d.LinkTTL
	}
	return a.cfg.LinkTTL
}
