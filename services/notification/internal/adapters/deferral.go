package adapters

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/natstrace"
	"github.com/bazgasht/bazgasht/platform/topology"
)

// Deferral moves a request that must wait from the work queue to
// NOTIFICATION_DEFERRED (subject cx.notification.deferred.<tenant>). The
// copy is stored before the original is acknowledged; a crash between the
// two leaves both, which the ledger makes harmless, and the copy's
// Nats-Msg-Id (the original's stream sequence) keeps a redelivered original
// from being copied twice.
type Deferral struct {
	js      jetstream.JetStream
	timeout time.Duration
}

// NewDeferral publishes through js.
func NewDeferral(js jetstream.JetStream, timeout time.Duration) (*Deferral, error) {
	if js == nil || timeout <= 0 {
		return nil, errors.New("deferral: JetStream and a positive timeout are required")
	}
	return &Deferral{js: js, timeout: timeout}, nil
}

// DeferredSubject is where a tenant's deferred requests go.
func DeferredSubject(tenant string) string { return "cx.notification.deferred." + tenant }

// Defer stores a copy of the request data for tenant; seq is the original's
// stream sequence.
func (d *Deferral) Defer(ctx context.Context, tenant string, data []byte, seq uint64) error {
	msg := &nats.Msg{Subject: DeferredSubject(tenant), Data: data, Header: nats.Header{}}
	msgID := tenant + ":deferred:" + strconv.FormatUint(seq, 10)
	ctx, span := natstrace.StartPublish(ctx, msg.Subject, msgID, msg.Header)
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if _, err := d.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(topology.NotificationDeferred)); err != nil {
		return fmt.Errorf("deferral: %w", err)
	}
	return nil
}
