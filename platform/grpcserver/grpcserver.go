// Package grpcserver builds the gRPC server every service runs: OpenTelemetry
// stats handler (health checks left out of traces), the standard health
// service and server reflection, so grpcurl and Kubernetes probes work.
package grpcserver

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
)

// Serving marks the server and each named service SERVING.
func Serving(hs *health.Server, services ...grpc.ServiceDesc) {
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, s := range services {
		hs.SetServingStatus(s.ServiceName, healthpb.HealthCheckResponse_SERVING)
	}
}

// New returns a server with health and reflection registered, and the health
// server, whose status the caller sets as dependencies come and go.
func New(opts ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	opts = append([]grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithFilter(notHealth))),
	}, opts...)
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	return srv, hs
}

func notHealth(info *stats.RPCTagInfo) bool {
	return info.FullMethodName != "/grpc.health.v1.Health/Check" && info.FullMethodName != "/grpc.health.v1.Health/Watch"
}
