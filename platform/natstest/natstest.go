// Package natstest starts the pinned nats-server in-process for tests, with
// JetStream on and its storage in the test's temporary directory.
package natstest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a running in-process nats-server and a client connected to it.
type Server struct {
	*server.Server
	// URL clients connect to.
	URL string
	// NC and JS are a connection for the test's own checks.
	NC *nats.Conn
	JS jetstream.JetStream
	// opts let Restart bring the server back on the same port and storage.
	opts *server.Options
	t    testing.TB
}

// Start runs a server on a free port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
	s := &Server{opts: opts, t: t}
	s.start()
	// Later restarts must reuse the port clients know.
	s.opts.Port = s.Server.Addr().(*net.TCPAddr).Port
	return s
}

func (s *Server) start() {
	s.t.Helper()
	srv, err := server.NewServer(s.opts)
	if err != nil {
		s.t.Fatalf("natstest: new server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("natstest: nats-server did not become ready in 10s")
	}
	s.Server = srv
	s.URL = srv.ClientURL()
	nc, err := nats.Connect(s.URL)
	if err != nil {
		s.t.Fatalf("natstest: connect: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatalf("natstest: jetstream: %v", err)
	}
	s.NC, s.JS = nc, js
	s.t.Cleanup(func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	})
}

// Stop shuts the server down, as an outage would.
func (s *Server) Stop() {
	s.NC.Close()
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
}

// Restart brings a stopped server back on the same port with the same
// storage.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

// Context returns a context that ends with the test or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
