// Package runner runs a service's servers and consumers together and stops
// them gracefully: when the context ends (SIGINT or SIGTERM) or any of them
// fails, every one is asked to stop and Run waits for all of them.
package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
)

// ShutdownTimeout bounds how long a server may take to finish in-flight
// requests after it was asked to stop.
const ShutdownTimeout = 10 * time.Second

// Component runs until ctx ends, then stops gracefully and returns nil; or
// returns the error that made it stop.
type Component func(ctx context.Context) error

// Run runs every component until ctx ends or one fails.
func Run(ctx context.Context, components ...Component) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range components {
		g.Go(func() error { return c(ctx) })
	}
	return g.Wait()
}

// HTTP serves srv on addr.
func HTTP(name, addr string, srv *http.Server) Component {
	return func(ctx context.Context) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
		}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return fmt.Errorf("%s: %w", name, err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("%s: shutdown: %w", name, err)
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
}

// GRPC serves srv on addr and stops it with GracefulStop, falling back to
// Stop when in-flight calls outlast ShutdownTimeout.
func GRPC(name, addr string, srv *grpc.Server) Component {
	return func(ctx context.Context) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
		}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return fmt.Errorf("%s: %w", name, err)
		case <-ctx.Done():
		}
		stopped := make(chan struct{})
		go func() { srv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(ShutdownTimeout):
			srv.Stop()
		}
		return nil
	}
}
