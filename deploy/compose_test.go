package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// The compose file loads with the compose-spec loader (the same library
// `docker compose` uses), and runs the whole system: the pinned NATS,
// Redis, Jaeger and the five services built from their Dockerfiles, each
// with a health check.
func TestComposeFileRunsTheWholeSystem(t *testing.T) {
	t.Parallel()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"}, cli.WithWorkingDirectory(".."), cli.WithName("bazgasht"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	mod, err := os.ReadFile("../platform/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nats", "redis", "jaeger", "ingest", "profile", "trigger", "survey", "notification"} {
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s (have %v)", name, p.ServiceNames())
		}
		switch name {
		case "nats":
			version := strings.TrimSuffix(strings.TrimPrefix(s.Image, "nats:"), "-alpine")
			if !strings.Contains(string(mod), "github.com/nats-io/nats-server/v2 v"+version+"\n") || !slices.Contains(s.Command, "-js") {
				t.Errorf("nats: image %s and command %v, want the pinned server with JetStream on", s.Image, s.Command)
			}
		case "redis", "jaeger":
		default:
			if s.Build == nil {
				t.Fatalf("%s is not built from the repository", name)
			}
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: Dockerfile %s: %v", name, s.Build.Dockerfile, err)
			}
			if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[len(s.HealthCheck.Test)-1] != "-healthcheck" {
				t.Errorf("%s: health check %v, want the binary's own -healthcheck", name, s.HealthCheck)
			}
			if s.Environment["NATS_URL"] == nil || *s.Environment["NATS_URL"] != "nats://nats:4222" {
				t.Errorf("%s: NATS_URL %v", name, s.Environment["NATS_URL"])
			}
		}
	}
	if s := p.Services["nats"]; s.HealthCheck == nil {
		t.Error("nats has no health check for the services to wait on")
	}
}
