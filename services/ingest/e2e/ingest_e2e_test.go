// Package e2e runs the real ingest binary against the pinned nats-server and
// drives it with a plain HTTP client, as a shop would.
package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/proctest"
)

const apiKey = "bzk_e2e_key"

type ingest struct {
	bin                 string
	proc                *proctest.Process
	api, admin, grpcTCP string
}

func startIngest(t *testing.T, natsURL string, extraEnv ...string) *ingest {
	t.Helper()
	bin := proctest.Build(t, "github.com/bazgasht/bazgasht/services/ingest/cmd/ingest")
	sum := sha256.Sum256([]byte(apiKey))
	tenants := filepath.Join(t.TempDir(), "tenants.json")
	doc := `{"tenants":[{"id":"shop-e2e","api_key_sha256":["` + hex.EncodeToString(sum[:]) + `"]}]}`
	if err := os.WriteFile(tenants, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	in := &ingest{bin: bin, api: proctest.FreeAddr(t), admin: proctest.FreeAddr(t), grpcTCP: proctest.FreeAddr(t)}
	env := append([]string{
		"NATS_URL=" + natsURL,
		"INGEST_HTTP_ADDR=" + in.api,
		"INGEST_GRPC_ADDR=" + in.grpcTCP,
		"INGEST_ADMIN_ADDR=" + in.admin,
		"INGEST_TENANTS_FILE=" + tenants,
		"INGEST_PUBLISH_TIMEOUT=1s",
	}, extraEnv...)
	in.proc = proctest.Start(t, bin, env...)
	in.proc.WaitReady(t, "http://"+in.admin+"/readyz", 20*time.Second)
	return in
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestIngestBinaryStoresEventsAndStopsCleanly(t *testing.T) {
	t.Parallel()
	nats := natstest.Start(t)
	in := startIngest(t, nats.URL)

	ev := `{"id":"e2e-1","type":"order.delivered","customer":{"customer_id":"c-1"},"order_delivered":{"order_id":"1001"}}`
	if code, body := post(t, "http://"+in.api+"/v1/events", ev); code != http.StatusAccepted {
		t.Fatalf("POST /v1/events = %d %s", code, body)
	}
	if code, body := post(t, "http://"+in.api+"/v1/events", ev); code != http.StatusOK || !strings.Contains(body, `"duplicate"`) {
		t.Fatalf("repeat POST = %d %s, want 200 duplicate", code, body)
	}
	ctx := natstest.Context(t, 10*time.Second)
	msg, err := nats.JS.Stream(ctx, "JOURNEY")
	if err != nil {
		t.Fatalf("JOURNEY stream was not created by ingest: %v", err)
	}
	got, err := msg.GetLastMsgForSubject(ctx, "cx.shop-e2e.journey.order.delivered")
	if err != nil {
		t.Fatalf("event not in JetStream: %v", err)
	}
	if got.Header.Get(jetstream.MsgIDHeader) != "shop-e2e:e2e-1" {
		t.Fatalf("Nats-Msg-Id = %q", got.Header.Get(jetstream.MsgIDHeader))
	}
	if info, _ := msg.Info(ctx); info.State.Msgs != 1 {
		t.Fatalf("JOURNEY holds %d messages, want 1", info.State.Msgs)
	}

	resp, err := http.Get("http://" + in.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`bazgasht_ingest_events_total{outcome="accepted",source="api"} 1`, `bazgasht_ingest_events_total{outcome="duplicate",source="api"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	conn, err := grpc.NewClient(in.grpcTCP, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hr, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "cx.ingest.v1.IngestService"})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health = %v, %v", hr, err)
	}

	// The container image's health check: the binary probes its own /readyz.
	probe := exec.Command(in.bin, "-healthcheck")
	probe.Env = []string{"INGEST_ADMIN_ADDR=" + in.admin}
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("ingest -healthcheck: %v %s; want exit 0 while ready", err, out)
	}

	if err := in.proc.Stop(15 * time.Second); err != nil {
		t.Fatalf("SIGTERM: %v; want a clean exit", err)
	}
	probe = exec.Command(in.bin, "-healthcheck")
	probe.Env = []string{"INGEST_ADMIN_ADDR=" + in.admin}
	if err := probe.Run(); err == nil {
		t.Fatal("ingest -healthcheck exits 0 with ingest stopped")
	}
}

func TestIngestAnswers503WhileNATSIsDownAndRecovers(t *testing.T) {
	t.Parallel()
	nats := natstest.Start(t)
	in := startIngest(t, nats.URL)
	nats.Stop()

	ev := `{"id":"e2e-out","type":"wishlist.added","customer":{"customer_id":"c-1"}}`
	start := time.Now()
	code, body := post(t, "http://"+in.api+"/v1/events", ev)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("POST with NATS down = %d %s, want 503", code, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("503 took %v; it must not hang", d)
	}
	resp, err := http.Get("http://" + in.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with NATS down = %d, want 503", resp.StatusCode)
	}

	nats.Restart()
	poll.Until(t, 20*time.Second, "ingest accepts events after NATS came back", func() bool {
		code, body = post(t, "http://"+in.api+"/v1/events", ev)
		return code == http.StatusAccepted
	})
	ctx := natstest.Context(t, 5*time.Second)
	s, _ := nats.JS.Stream(ctx, "JOURNEY")
	if _, err := s.GetLastMsgForSubject(ctx, "cx.shop-e2e.journey.wishlist.added"); err != nil {
		t.Fatalf("event accepted after recovery is not stored: %v", err)
	}
}

func TestIngestRefusesToStartWithBadConfig(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "github.com/bazgasht/bazgasht/services/ingest/cmd/ingest")
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"no tenants", []string{"NATS_URL=nats://127.0.0.1:1"}, "no tenants"},
		{"bad key hash", []string{`INGEST_TENANTS={"tenants":[{"id":"a","api_key_sha256":["xyz"]}]}`}, "tenants[0].api_key_sha256[0]"},
		{"bad duration", []string{"INGEST_PUBLISH_TIMEOUT=soon"}, "INGEST_PUBLISH_TIMEOUT"},
		{"bad log level", []string{"LOG_LEVEL=loud"}, "LOG_LEVEL"},
		{"unreachable NATS", []string{`INGEST_TENANTS={"tenants":[{"id":"a","api_key_sha256":["` + strings.Repeat("ab", 32) + `"]}]}`, "NATS_URL=nats://127.0.0.1:1"}, "cannot reach NATS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := proctest.Start(t, bin, tc.env...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			exited, err := p.Exited(ctx)
			if !exited || err == nil {
				t.Fatalf("exited=%v err=%v; want a failed exit", exited, err)
			}
			if !strings.Contains(p.Output(), tc.want) {
				t.Fatalf("output does not name %q:\n%s", tc.want, p.Output())
			}
		})
	}
}
