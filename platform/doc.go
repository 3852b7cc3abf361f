// Package platform is the root of Bazgasht's shared plumbing: configuration,
// logging, OpenTelemetry, the NATS connection and JetStream topology, the
// trace-context carrier for NATS headers, the journey-event contract helpers
// and the graceful run of servers. Each sub-package does one of these jobs;
// business rules live in the services, never here.
package platform
