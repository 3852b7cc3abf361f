// Package broker connects a service to NATS and JetStream.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/topology"
)

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect dials url as service and returns the connection once JetStream
// answers. The connection reconnects forever after a later outage; callers
// see the outage as publish errors, never as a hang.
func Connect(ctx context.Context, url, service string, log *slog.Logger) (*Conn, error) {
	nc, err := nats.Connect(url,
		nats.Name("bazgasht-"+service),
		nats.Timeout(2*time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("broker: cannot reach NATS at %s (is it running? `make run` starts one): %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("broker: jetstream: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(actx); err != nil {
		nc.Close()
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, fmt.Errorf("broker: JetStream is not enabled on the NATS server at %s; start nats-server with -js", url)
		}
		return nil, fmt.Errorf("broker: JetStream account info from %s: %w", url, err)
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Open connects as service and ensures the part of the JetStream topology
// the service uses, refusing a server too old for it.
func Open(ctx context.Context, url, service string, set topology.Set, log *slog.Logger) (*Conn, error) {
	c, err := Connect(ctx, url, service, log)
	if err != nil {
		return nil, err
	}
	if err := topology.Ensure(ctx, c.JS, c.NC.ConnectedServerVersion(), set); err != nil {
		c.NC.Close()
		return nil, err
	}
	return c, nil
}

// CloseWithin drains the connection, waiting at most d.
func (c *Conn) CloseWithin(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = c.Close(ctx)
}

// Ready reports whether the connection is up, for /readyz.
func (c *Conn) Ready(context.Context) error {
	if s := c.NC.Status(); s != nats.CONNECTED {
		return fmt.Errorf("nats connection is %s", s)
	}
	return nil
}

// Close drains the connection: in-flight messages are delivered and acks
// sent before it closes. It waits at most until ctx is done.
func (c *Conn) Close(ctx context.Context) error {
	done := make(chan struct{})
	c.NC.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := c.NC.Drain(); err != nil {
		c.NC.Close()
		return nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		c.NC.Close()
	}
	return nil
}
