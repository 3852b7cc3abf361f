package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
)

// Policy is the dispatcher's configuration.
type Policy struct {
	QuietHours      notification.QuietHours
	FrequencyCap    notification.FrequencyCap
	DefaultTimeZone *time.Location
	DefaultLocale   string
	// Lease is how long a "sending" record keeps other workers off; it
	// must outlast a provider call.
	Lease time.Duration
	// RetryBase and RetryMax bound the backoff after transient errors;
	// MaxRetries transient errors on one channel count as a permanent one.
	RetryBase, RetryMax time.Duration
	MaxRetries          int
	// Recheck is the longest a held or waiting request is left alone
	// before it is looked at again.
	Recheck time.Duration
	// ProviderTimeout bounds one provider call.
	ProviderTimeout time.Duration
}

// Dispatcher sends notifications exactly once.
type Dispatcher struct {
	ledger    Ledger
	templates *Templates
	profiles  ProfileReader
	unsubs    Unsubscribes
	caps      CapStore
	providers map[notification.Channel]Provider
	events    Events
	links     Links
	policy    Policy
	now       func() time.Time
	log       *slog.Logger
	zones     sync.Map // name → *time.Location
}

// Deps are the Dispatcher's collaborators.
type Deps struct {
	Ledger       Ledger
	Templates    *Templates
	Profiles     ProfileReader
	Unsubscribes Unsubscribes
	Caps         CapStore
	Providers    map[notification.Channel]Provider
	Events       Events
	Links        Links
	// Now is the clock; tests move it.
	Now func() time.Time
	Log *slog.Logger
}

// NewDispatcher checks its dependencies.
func NewDispatcher(d Deps, p Policy) (*Dispatcher, error) {
	if d.Ledger == nil || d.Templates == nil || d.Profiles == nil || d.Unsubscribes == nil || d.Caps == nil || d.Events == nil || d.Links == nil || d.Now == nil || d.Log == nil {
		return nil, errors.New("dispatcher: every dependency is required")
	}
	if p.Lease <= p.ProviderTimeout || p.RetryBase <= 0 || p.RetryMax < p.RetryBase || p.Recheck <= 0 || p.DefaultTimeZone == nil {
		return nil, errors.New("dispatcher: the lease must outlast the provider timeout; retry base, max and recheck must be positive")
	}
	return &Dispatcher{ledger: d.Ledger, templates: d.Templates, profiles: d.Profiles, unsubs: d.Unsubscribes, caps: d.Caps,
		providers: d.Providers, events: d.Events, links: d.Links, policy: p, now: d.Now, log: d.Log}, nil
}

// Action is what to do with the work-queue message after Process.
type Action int

// The actions.
const (
	// Ack: the notification reached a final state (or is recorded as held
	// elsewhere); the message is done.
	Ack Action = iota
	// Retry: look again after Delay (held, backing off, or another worker
	// holds the lease).
	Retry
)

// Result is Process's answer.
type Result struct {
	Action Action
	Delay  time.Duration
	// Status is the notification's status after this call.
	Status notification.Status
}

// Process advances one notification as far as it can go now. It is safe to
// call any number of times for the same request, concurrently too: the
// ledger's compare-and-set decides who sends, and a final record is never
// sent again. An error means nothing was decided: retry later.
func (d *Dispatcher) Process(ctx context.Context, req *notification.Request, firstDelivery bool) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	// A first delivery is almost always a new notification: skip the read
	// and let Create's ErrExists tell the rare duplicate.
	skipRead := firstDelivery
	for range 4 {
		res, err := d.process(ctx, req, skipRead)
		if errors.Is(err, ErrExists) || errors.Is(err, ErrConflict) {
			skipRead = false
			continue
		}
		return res, err
	}
	return Result{Action: Retry, Delay: d.policy.RetryBase}, nil
}

// run is one pass over a notification: the record and its revision (rev 0:
// not stored yet).
type run struct {
	n   *notification.Notification
	rev uint64
}

func (d *Dispatcher) save(ctx context.Context, r *run) error {
	r.n.UpdatedAt = d.now()
	var err error
	if r.rev == 0 {
		r.rev, err = d.ledger.Create(ctx, r.n)
	} else {
		r.rev, err = d.ledger.Update(ctx, r.n, r.rev)
	}
	return err
}

func (d *Dispatcher) process(ctx context.Context, req *notification.Request, skipRead bool) (Result, error) {
	now := d.now()
	r := &run{}
	if !skipRead {
		n, rev, err := d.ledger.Get(ctx, req.Tenant, req.ID)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return Result{}, err
		default:
			r.n, r.rev = n, rev
		}
	}
	if r.n == nil {
		r.n = &notification.Notification{Request: *req, Status: notification.Queued, CreatedAt: now}
	}
	n := r.n
	switch {
	case n.Status.Final():
		// Done before; the outcome's journey event may not have been
		// published if the process died right after the ledger write, and
		// its id makes publishing it again harmless.
		if err := d.events.Publish(ctx, d.outcomeOf(n)); err != nil {
			return Result{}, err
		}
		return Result{Action: Ack, Status: n.Status}, nil
	case n.Status == notification.Sending && now.Before(n.LeaseUntil):
		return Result{Action: Retry, Delay: min(n.LeaseUntil.Sub(now)+10*time.Millisecond, d.policy.Recheck), Status: n.Status}, nil
	case n.Status == notification.Sending:
		return d.recover(ctx, r)
	case !n.ScheduledAt.IsZero() && now.Before(n.ScheduledAt):
		return Result{Action: Retry, Delay: min(n.ScheduledAt.Sub(now), d.policy.Recheck), Status: n.Status}, nil
	}
	return d.dispatch(ctx, r, now)
}

// recover handles a record left "sending" by a worker that died during the
// provider call: whether the provider took the message is unknown. A
// provider that deduplicates is simply called again with the same key; any
// other is not, and the notification fails saying so — a possible loss is
// chosen over a possible duplicate.
func (d *Dispatcher) recover(ctx context.Context, r *run) (Result, error) {
	a := r.n.LastAttempt()
	p := d.providers[a.Channel]
	if p != nil && p.Idempotent() {
		a.Outcome, a.Detail = notification.Transient, "interrupted; repeated with the same idempotency key"
		r.n.Status = notification.Queued
		return d.dispatch(ctx, r, d.now())
	}
	a.Outcome, a.Detail = notification.Permanent, "interrupted during the provider call; outcome unknown"
	return d.finish(ctx, r, notification.Failed, a.Channel, a.Provider,
		"outcome unknown: the service stopped during the "+a.Provider+" call; not repeated, to avoid a duplicate", true)
}

func (d *Dispatcher) dispatch(ctx context.Context, r *run, now time.Time) (Result, error) {
	n, req := r.n, &r.n.Request
	tpl, err := d.templates.Resolve(ctx, req.Tenant, req.TemplateID, req.TemplateVersion)
	if errors.Is(err, ErrNotFound) {
		return d.finish(ctx, r, notification.Failed, req.Channel, "", fmt.Sprintf("template: %s version %d does not exist", req.TemplateID, req.TemplateVersion), true)
	}
	if err != nil {
		return Result{}, err
	}
	prof, err := d.profiles.Profile(ctx, req.Tenant, req.Customer)
	if err != nil {
		return Result{}, err
	}
	n.TemplateVersion = tpl.Version
	n.Category = req.Category
	if n.Category == "" {
		n.Category = tpl.DefaultCategory
	}
	if n.Category == "" {
		n.Category = notification.Marketing
	}
	available := []notification.Channel{}
	for _, c := range tpl.Channels() {
		if d.providers[c] != nil && !d.failedOn(n, c) {
			available = append(available, c)
		}
	}
	choice := notification.Choose(notification.ChoiceInput{Requested: req.Channel, DisableFallback: req.DisableFallback, Category: n.Category,
		Profile: prof, Customer: req.Customer, Available: available,
		Unsubscribed: func(c notification.Channel) bool {
			// Under the customer as known now, or under the address itself:
			// a guest who unsubscribed before their profile existed, or a
			// profile merged since, stays unsubscribed.
			if d.unsubs.Unsubscribed(req.Tenant, prof.Key, c) {
				return true
			}
			addr := notification.AddressKey(c, prof.Contact(c, req.Customer))
			return addr != "" && d.unsubs.Unsubscribed(req.Tenant, addr, c)
		}})
	if len(choice.Channels) == 0 {
		if len(n.Attempts) > 0 { // every channel tried failed for good
			return d.failAll(ctx, r)
		}
		return d.finish(ctx, r, notification.Suppressed, choice.Considered, "", choice.Reason, true)
	}
	if a := n.LastAttempt(); a != nil && a.Outcome == notification.Transient {
		// a retry stays on the channel it was trying: the provider may
		// have taken the message, and only it can deduplicate
		if i := slices.Index(choice.Channels, a.Channel); i > 0 {
			choice.Channels = append([]notification.Channel{a.Channel}, slices.Delete(choice.Channels, i, i+1)...)
		}
	}
	if n.Category == notification.Marketing || n.Category == notification.Service {
		loc := d.location(prof.TimeZone)
		if until, held := d.policy.QuietHours.HeldUntil(now, loc); held {
			n.Status, n.ScheduledAt = notification.Held, until
			if err := d.save(ctx, r); err != nil {
				return Result{}, err
			}
			return Result{Action: Retry, Delay: min(until.Sub(now), d.policy.Recheck), Status: n.Status}, nil
		}
	}
	if n.Category == notification.Marketing {
		if !d.policy.FrequencyCap.Off() {
			ok, err := d.caps.Reserve(ctx, req.Tenant, prof.Key, req.ID, d.policy.FrequencyCap, now)
			if err != nil {
				return Result{}, err
			}
			if !ok {
				return d.finish(ctx, r, notification.Suppressed, choice.Channels[0], "",
					fmt.Sprintf("%s: at most %d marketing messages per %s", notification.ReasonFrequencyCap, d.policy.FrequencyCap.Count, d.policy.FrequencyCap.Window), true)
			}
			n.CapKey = prof.Key
		}
	}
	// A caller that already wrote part of the message in one language
	// (the survey service's question) names it in .Vars.locale; it wins,
	// so one message is never in two languages.
	locale := cmp.Or(req.Vars["locale"], prof.Locale, d.policy.DefaultLocale)
	for _, ch := range choice.Channels {
		content, _ := tpl.Content(ch, locale)
		unsub := ""
		if ch == notification.Email {
			unsub = d.links.UnsubscribeURL(req.Tenant, prof.Key, notification.AddressKey(ch, prof.Contact(ch, req.Customer)), ch, req.ID)
		}
		rendered, err := template.Render(content, template.Data{Profile: profileData(prof), Event: req.Event, Vars: vars(req.Vars), Locale: content.Locale, UnsubscribeURL: unsub})
		if err != nil {
			return d.finish(ctx, r, notification.Failed, ch, "", err.Error(), true)
		}
		msg := Message{Tenant: req.Tenant, NotificationID: req.ID, IdempotencyKey: req.Tenant + ":" + req.ID + ":" + string(ch), Channel: ch,
			To: prof.Contact(ch, req.Customer), Customer: req.Customer, Content: rendered, UnsubscribeURL: unsub}
		res, done, err := d.attempt(ctx, r, msg)
		if done || err != nil {
			return res, err
		}
	}
	return d.failAll(ctx, r)
}

// location is the named IANA zone, or the default for an unknown one;
// zones are parsed once.
func (d *Dispatcher) location(name string) *time.Location {
	if name == "" {
		return d.policy.DefaultTimeZone
	}
	if l, ok := d.zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l = d.policy.DefaultTimeZone
	}
	d.zones.Store(name, l)
	return l
}

// failedOn reports whether channel c already failed for good.
func (d *Dispatcher) failedOn(n *notification.Notification, c notification.Channel) bool {
	for _, a := range n.Attempts {
		if a.Channel == c && a.Outcome == notification.Permanent {
			return true
		}
	}
	return false
}

// attempt claims the notification, calls the provider and records the
// outcome. done is false when the channel failed for good and the next one
// should be tried.
func (d *Dispatcher) attempt(ctx context.Context, r *run, msg Message) (Result, bool, error) {
	n := r.n
	p := d.providers[msg.Channel]
	now := d.now()
	n.Status, n.Channel, n.ScheduledAt = notification.Sending, msg.Channel, time.Time{}
	n.LeaseUntil = now.Add(d.policy.Lease)
	n.Attempts = append(n.Attempts, notification.Attempt{Channel: msg.Channel, Provider: p.Name(), At: now, Key: msg.IdempotencyKey})
	if err := d.save(ctx, r); err != nil {
		return Result{}, true, err // someone else has it; look again
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.policy.ProviderTimeout)
	receipt, err := p.Send(cctx, msg)
	cancel()
	a := n.LastAttempt()
	var perr *ProviderError
	switch {
	case err == nil:
		a.Outcome, a.ProviderMessageID, a.Detail = notification.Accepted, receipt.MessageID, receipt.Detail
		n.SentAt = d.now()
		if receipt.MessageID != "" && p.ReportsDelivery() {
			if err := d.ledger.IndexProviderMessage(ctx, p.Name(), receipt.MessageID, msg.Tenant, n.Request.ID); err != nil {
				d.log.WarnContext(ctx, "delivery reports for this message will not be matched", "provider", p.Name(), "err", err)
			}
		}
		res, err := d.finish(ctx, r, notification.Sent, msg.Channel, p.Name(), "", false)
		return res, true, err
	case errors.As(err, &perr) && perr.Unknown:
		a.Outcome, a.Detail = notification.Permanent, perr.Detail
		res, err := d.finish(ctx, r, notification.Failed, msg.Channel, p.Name(),
			"outcome unknown: "+perr.Detail+"; not repeated and no other channel tried, to avoid a duplicate", true)
		return res, true, err
	case errors.As(err, &perr) && perr.Permanent:
		a.Outcome, a.Detail = notification.Permanent, perr.Detail
		n.Skipped = append(n.Skipped, fmt.Sprintf("fell back from %s: %s", msg.Channel, perr.Detail))
		n.Retries = 0
		return Result{}, false, nil
	default:
		a.Outcome, a.Detail = notification.Transient, err.Error()
		n.Retries++
		if n.Retries >= d.policy.MaxRetries {
			a.Outcome = notification.Permanent
			n.Skipped = append(n.Skipped, fmt.Sprintf("fell back from %s: gave up after %d attempts: %s", msg.Channel, n.Retries, err.Error()))
			n.Retries = 0
			return Result{}, false, nil
		}
		delay := notification.Backoff(d.policy.RetryBase, d.policy.RetryMax, n.Retries)
		n.Status, n.ScheduledAt, n.LeaseUntil = notification.Queued, d.now().Add(delay), time.Time{}
		if err := d.save(ctx, r); err != nil {
			return Result{}, true, err
		}
		return Result{Action: Retry, Delay: min(delay, d.policy.Recheck), Status: n.Status}, true, nil
	}
}

// failAll ends a notification every allowed channel refused.
func (d *Dispatcher) failAll(ctx context.Context, r *run) (Result, error) {
	a := r.n.LastAttempt()
	reason := a.Detail
	if len(r.n.Skipped) > 1 {
		reason = fmt.Sprintf("every allowed channel failed: %v", r.n.Skipped)
	}
	return d.finish(ctx, r, notification.Failed, a.Channel, a.Provider, reason, true)
}

// finish records a final status, then publishes its journey event. The
// record comes first: a crash between the two republishes the event on
// redelivery (same id, deduplicated), never resends the message.
func (d *Dispatcher) finish(ctx context.Context, r *run, st notification.Status, ch notification.Channel, provider, reason string, permanent bool) (Result, error) {
	n := r.n
	n.Status, n.Reason, n.LeaseUntil, n.ScheduledAt = st, reason, time.Time{}, time.Time{}
	if ch != "" {
		n.Channel = ch
	}
	release := ""
	if st != notification.Sent && n.CapKey != "" {
		release, n.CapKey = n.CapKey, ""
	}
	if err := d.save(ctx, r); err != nil {
		return Result{}, err
	}
	// Released only once the record says so: a duplicate that lost the
	// race must not free the place of the message that was sent. A failed
	// release leaves the place taken — the cap errs on the quiet side.
	if release != "" {
		if err := d.caps.Release(ctx, n.Request.Tenant, release, n.Request.ID); err != nil {
			d.log.WarnContext(ctx, "frequency-cap place not released", "tenant", n.Request.Tenant, "err", err)
		}
	}
	if err := d.events.Publish(ctx, d.outcomeOf(n)); err != nil {
		return Result{}, err
	}
	return Result{Action: Ack, Status: st}, nil
}

// outcomeOf is the journey event of a final record.
func (d *Dispatcher) outcomeOf(n *notification.Notification) Outcome {
	o := Outcome{Notification: n, Type: n.Status, Channel: n.Channel, Reason: n.Reason, Permanent: true, At: n.UpdatedAt}
	if n.Status == notification.Delivered {
		o.At = n.DeliveredAt
	}
	if a := n.LastAttempt(); a != nil {
		o.Provider, o.MessageID, o.Detail = a.Provider, a.ProviderMessageID, a.Detail
	}
	if n.Status == notification.Sent {
		o.Reason = strings.Join(n.Skipped, "; ")
	}
	return o
}

// profileData is the profile as templates see it: the names always present
// (maybe empty) so that {{.Profile.first_name}} never fails for a customer
// without one.
func profileData(p *notification.Profile) map[string]any {
	m := map[string]any{}
	for k, v := range p.Doc {
		m[k] = v
	}
	name := strings.TrimSpace(p.FirstName + " " + p.LastName)
	m["first_name"], m["last_name"], m["name"], m["locale"], m["time_zone"] = p.FirstName, p.LastName, name, p.Locale, p.TimeZone
	return m
}

func vars(v map[string]string) map[string]string {
	if v == nil {
		return map[string]string{}
	}
	return v
}
