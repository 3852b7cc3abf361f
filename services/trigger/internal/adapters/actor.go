package adapters

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/platform/journeystream"
	"github.com/bazgasht/bazgasht/platform/natstrace"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
)

// Actor carries out firings. Every action is idempotent under the firing's
// id, so a firing retried after a failure does each thing once: work-queue
// requests and journey events carry message ids derived from it, the task
// id is derived from it, and webhooks carry it for the receiver.
type Actor struct {
	js       jetstream.JetStream
	journey  *journeystream.Publisher
	tasks    task.Repository
	client   *http.Client
	secrets  map[string]string
	helpdesk string
	now      func() time.Time
}

// ActorConfig holds what actions need from the deployment.
type ActorConfig struct {
	// WebhookSecrets by name, for signing webhook actions.
	WebhookSecrets map[string]string
	// HelpdeskURL receives tasks whose action asks to notify the helpdesk.
	HelpdeskURL string
	// HTTPTimeout bounds a webhook call.
	HTTPTimeout time.Duration
}

// NewActor returns an actor publishing through js and pub.
func NewActor(js jetstream.JetStream, pub *journeystream.Publisher, tasks task.Repository, cfg ActorConfig, now func() time.Time) (*Actor, error) {
	if js == nil || pub == nil || tasks == nil || now == nil {
		return nil, errors.New("actor: jetstream, publisher, tasks and clock are required")
	}
	return &Actor{js: js, journey: pub, tasks: tasks, client: &http.Client{Timeout: cfg.HTTPTimeout}, secrets: cfg.WebhookSecrets, helpdesk: cfg.HelpdeskURL, now: now}, nil
}

var _ app.Actor = (*Actor)(nil)

// Act carries out f's actions (none when suppressed) and announces it as a
// trigger.fired journey event.
func (a *Actor) Act(ctx context.Context, f app.Firing) error {
	var names []string
	var events []*journeyv1.JourneyEvent
	// Work-queue requests go out together with the journey events and are
	// awaited after them: one round trip to the broker, not one each.
	var queued []enqueued
	defer func() {
		for _, q := range queued {
			q.span.End()
		}
	}()
	if !f.Suppressed {
		for i, act := range f.Rule.Actions {
			id := fmt.Sprintf("%s#%d", f.ID, i)
			var err error
			var ev *journeyv1.JourneyEvent
			switch {
			case act.Survey != nil:
				names = append(names, "survey")
				var q enqueued
				if q, err = a.invite(ctx, f, id, act.Survey); err == nil {
					queued = append(queued, q)
				}
			case act.Notify != nil:
				names = append(names, "notify")
				var q enqueued
				if q, err = a.notify(ctx, f, id, act.Notify); err == nil {
					queued = append(queued, q)
				}
			case act.Task != nil:
				names = append(names, "task")
				ev, err = a.task(ctx, f, act.Task)
			case act.Webhook != nil:
				names = append(names, "webhook")
				err = a.webhook(ctx, f, act.Webhook)
			case act.SetTrait != nil:
				names = append(names, "set_trait")
				ev = a.trait(f, id, act.SetTrait)
			}
			if err != nil {
				return fmt.Errorf("rule %s action %d: %w", f.Rule.ID, i, err)
			}
			if ev != nil {
				events = append(events, ev)
			}
		}
	}
	fired := a.event(f, "fired:"+f.ID, "trigger.fired")
	fired.Payload = &journeyv1.JourneyEvent_TriggerFired{TriggerFired: &journeyv1.TriggerFired{
		RuleId: f.Rule.ID, RuleVersion: int32(f.Rule.Version), CauseEventId: f.Cause.ID, Actions: names,
		Suppressed: f.Suppressed, SuppressionReason: f.Reason}}
	events = append(events, fired)
	var errs []error
	for _, ack := range a.journey.Publish(ctx, events) {
		errs = append(errs, ack.Err)
	}
	for _, q := range queued {
		errs = append(errs, q.wait(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	outcome := "acted"
	if f.Suppressed {
		outcome = "suppressed"
	}
	firings.WithLabelValues(f.Rule.ID, outcome, f.Reason).Inc()
	return nil
}

// event starts a journey event about f's customer.
func (a *Actor) event(f app.Firing, id, typ string) *journeyv1.JourneyEvent {
	return &journeyv1.JourneyEvent{Id: eventID(id), Tenant: f.Tenant, Type: typ, Customer: customer(f.Customer),
		OccurredAt: timestamppb.New(a.now()), ReceivedAt: timestamppb.New(a.now()), Source: "trigger"}
}

// eventID keeps derived ids within the journey id limit.
func eventID(id string) string {
	if len(id) <= journey.MaxIDLength {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return id[:journey.MaxIDLength-33] + "~" + hex.EncodeToString(sum[:16])
}

func customer(c app.Customer) *journeyv1.Customer {
	return &journeyv1.Customer{CustomerId: c.CustomerID, Email: c.Email, Phone: c.Phone, AnonymousId: c.AnonymousID}
}

func channel(name string) journeyv1.Channel {
	switch name {
	case "email":
		return journeyv1.Channel_CHANNEL_EMAIL
	case "sms":
		return journeyv1.Channel_CHANNEL_SMS
	case "push":
		return journeyv1.Channel_CHANNEL_PUSH
	case "webhook":
		return journeyv1.Channel_CHANNEL_WEBHOOK
	}
	return journeyv1.Channel_CHANNEL_UNSPECIFIED // auto: the customer's preferred one
}

// enqueued is a work-queue request on its way to the broker.
type enqueued struct {
	ack  jetstream.PubAckFuture
	span trace.Span
}

// wait returns once the broker stored the request (or refused it).
func (q enqueued) wait(ctx context.Context) error {
	select {
	case <-q.ack.Ok():
		return nil
	case err := <-q.ack.Err():
		q.span.RecordError(err)
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enqueue starts putting a request on a work queue, traced, deduplicated
// by id.
func (a *Actor) enqueue(ctx context.Context, subject, id string, m proto.Message) (enqueued, error) {
	data, err := proto.Marshal(m)
	if err != nil {
		return enqueued{}, err
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	_, span := natstrace.StartPublish(ctx, subject, id, msg.Header)
	ack, err := a.js.PublishMsgAsync(msg, jetstream.WithMsgID(id))
	if err != nil {
		span.End()
		return enqueued{}, err
	}
	return enqueued{ack: ack, span: span}, nil
}

func (a *Actor) invite(ctx context.Context, f app.Firing, id string, s *rule.SurveyAction) (enqueued, error) {
	req := &surveyv1.InviteRequest{Tenant: f.Tenant, SurveyId: s.SurveyID, Customer: customer(f.Customer), Touchpoint: touchpoint(s.Touchpoint, f.Cause),
		Channel: channel(s.Channel), Transactional: s.Transactional, CauseEventId: f.Cause.ID}
	return a.enqueue(ctx, "cx."+f.Tenant+".survey.invite", f.Tenant+":"+eventID(id), req)
}

// touchpoint names what a survey is about: the configured one, or the
// cause's order or ticket ("order:1001").
func touchpoint(configured string, cause app.Event) string {
	if configured != "" {
		return rule.Expand(configured, rule.Doc{"event": cause.Doc})
	}
	for body, key := range map[string]string{"order_delivered": "order", "order_placed": "order", "ticket_resolved": "ticket", "order_shipped": "order"} {
		if m, ok := cause.Doc[body].(map[string]any); ok {
			if id, ok := m[key+"_id"].(string); ok {
				return key + ":" + id
			}
		}
	}
	return ""
}

func (a *Actor) notify(ctx context.Context, f app.Firing, id string, n *rule.NotifyAction) (enqueued, error) {
	cat := notificationv1.Category_CATEGORY_MARKETING
	if n.Transactional {
		cat = notificationv1.Category_CATEGORY_TRANSACTIONAL
	}
	vars := map[string]string{}
	for k, v := range n.Variables {
		vars[k] = rule.Expand(v, rule.Doc{"event": f.Cause.Doc})
	}
	req := &notificationv1.SendRequest{Tenant: f.Tenant, NotificationId: eventID("trigger:" + id), Customer: customer(f.Customer), TemplateId: n.Template,
		Channel: channel(n.Channel), Category: cat, Variables: vars, CauseEventId: f.Cause.ID}
	return a.enqueue(ctx, "cx."+f.Tenant+".notification.send", f.Tenant+":"+eventID(id), req)
}

func (a *Actor) task(ctx context.Context, f app.Firing, t *rule.TaskAction) (*journeyv1.JourneyEvent, error) {
	tk, err := task.New(task.Spec{Tenant: f.Tenant, Customer: task.Customer(f.Customer), Reason: rule.Expand(t.Reason, rule.Doc{"event": f.Cause.Doc}), RuleID: f.Rule.ID, RuleVersion: f.Rule.Version,
		CauseEventID: f.Cause.ID, Priority: task.Priority(t.Priority), DueIn: time.Duration(t.DueIn), Assignee: t.Assignee}, a.now())
	if err != nil {
		return nil, err
	}
	if _, err := a.tasks.Create(ctx, tk); err != nil {
		return nil, err
	}
	if t.NotifyHelpdesk && a.helpdesk != "" {
		if err := a.post(ctx, a.helpdesk, "", "task:"+tk.ID, tk); err != nil {
			return nil, fmt.Errorf("helpdesk: %w", err)
		}
	}
	ev := a.event(f, "task:"+tk.ID+":created", "task.created")
	ev.Payload = &journeyv1.JourneyEvent_TaskCreated{TaskCreated: &journeyv1.TaskCreated{TaskId: tk.ID, RuleId: f.Rule.ID, Reason: tk.Reason,
		Priority: string(tk.Priority), DueAt: timestamppb.New(tk.DueAt)}}
	return ev, nil
}

func (a *Actor) trait(f app.Firing, id string, t *rule.SetTraitAction) *journeyv1.JourneyEvent {
	ev := a.event(f, "trait:"+id, "customer.updated")
	ev.Payload = &journeyv1.JourneyEvent_CustomerUpdated{CustomerUpdated: &journeyv1.CustomerUpdated{Traits: map[string]string{t.Key: t.Value}}}
	return ev
}

// webhookBody is what a webhook action posts.
type webhookBody struct {
	FiringID  string         `json:"firing_id"`
	Tenant    string         `json:"tenant"`
	RuleID    string         `json:"rule_id"`
	Version   int            `json:"rule_version"`
	Customer  app.Customer   `json:"customer"`
	CauseID   string         `json:"cause_event_id"`
	CauseType string         `json:"cause_event_type"`
	Cause     map[string]any `json:"cause_event"`
	FiredAt   time.Time      `json:"fired_at"`
}

func (a *Actor) webhook(ctx context.Context, f app.Firing, w *rule.WebhookAction) error {
	secret, ok := a.secrets[w.SecretName]
	if w.SecretName != "" && !ok {
		return fmt.Errorf("webhook secret %q is not configured", w.SecretName)
	}
	body := webhookBody{FiringID: f.ID, Tenant: f.Tenant, RuleID: f.Rule.ID, Version: f.Rule.Version, Customer: f.Customer,
		CauseID: f.Cause.ID, CauseType: f.Cause.Type, Cause: f.Cause.Doc, FiredAt: f.At}
	return a.post(ctx, w.URL, secret, f.ID, body)
}

// post sends v as JSON, signed with secret (X-Bazgasht-Signature:
// sha256=<hex HMAC of the body>) and carrying id (X-Bazgasht-Delivery) so
// the receiver can drop a repeat. Any 2xx is success.
func (a *Actor) post(ctx context.Context, url, secret, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Bazgasht-Delivery", id)
	req.Header.Set("X-Bazgasht-Timestamp", strconv.FormatInt(a.now().Unix(), 10))
	if secret != "" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(data)
		req.Header.Set("X-Bazgasht-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}
