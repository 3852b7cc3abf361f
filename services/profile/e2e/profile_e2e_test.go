// Package e2e runs the real ingest and profile binaries against the pinned
// nats-server and real Redis: a shop's events go in over HTTP, the profile
// comes out over gRPC.
package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/poll"
	"github.com/bazgasht/bazgasht/platform/proctest"
	"github.com/bazgasht/bazgasht/platform/redistest"
)

const apiKey = "bzk_profile_e2e"

func TestShopEventsBecomeAProfile(t *testing.T) {
	t.Parallel()
	nats := natstest.Start(t)
	prefix := redistest.Prefix(t, redistest.Client(t)) // a real Redis answers (started if installed)

	sum := sha256.Sum256([]byte(apiKey))
	tenants := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(tenants, []byte(`{"tenants":[{"id":"shop-e2e","api_key_sha256":["`+hex.EncodeToString(sum[:])+`"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	apiAddr, ingestAdmin := proctest.FreeAddr(t), proctest.FreeAddr(t)
	ingest := proctest.Start(t, proctest.Build(t, "github.com/bazgasht/bazgasht/services/ingest/cmd/ingest"),
		"NATS_URL="+nats.URL, "INGEST_HTTP_ADDR="+apiAddr, "INGEST_GRPC_ADDR="+proctest.FreeAddr(t), "INGEST_ADMIN_ADDR="+ingestAdmin, "INGEST_TENANTS_FILE="+tenants)
	grpcAddr, profileAdmin := proctest.FreeAddr(t), proctest.FreeAddr(t)
	profile := proctest.Start(t, proctest.Build(t, "github.com/bazgasht/bazgasht/services/profile/cmd/profile"),
		"NATS_URL="+nats.URL, "REDIS_URL="+redistest.URL(), "PROFILE_CACHE_PREFIX="+prefix, "PROFILE_GRPC_ADDR="+grpcAddr, "PROFILE_ADMIN_ADDR="+profileAdmin, "PROFILE_VIP_REVENUE=IRT=2000000")
	ingest.WaitReady(t, "http://"+ingestAdmin+"/readyz", 20*time.Second)
	profile.WaitReady(t, "http://"+profileAdmin+"/readyz", 20*time.Second)

	cust := `{"customer_id":"c-e2e","email":"e2e@example.com"}`
	batch := `{"events":[
	 {"id":"p1","type":"order.placed","customer":` + cust + `,"occurred_at":"2026-11-01T10:00:00Z","order_placed":{"order_id":"1","total":{"currency":"IRT","amount":"1500000"}}},
	 {"id":"p2","type":"order.placed","customer":` + cust + `,"occurred_at":"2026-11-10T10:00:00Z","order_placed":{"order_id":"2","total":{"currency":"IRT","amount":"900000"}}},
	 {"id":"n1","type":"survey.responded","customer":` + cust + `,"occurred_at":"2026-11-12T10:00:00Z","survey_responded":{"survey_id":"nps","kind":"SURVEY_KIND_NPS","score":10}}]}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+apiAddr+"/v1/events:batch", strings.NewReader(batch))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"accepted":3`) {
		t.Fatalf("batch = %d %s", resp.StatusCode, body)
	}

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := natstest.Context(t, 20*time.Second)
	if h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "cx.profile.v1.ProfileService"}); err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", h, err)
	}
	client := profilev1.NewProfileServiceClient(conn)
	var p *profilev1.Profile
	poll.Until(t, 20*time.Second, "the profile shows both orders and the NPS answer", func() bool {
		r, err := client.GetProfile(ctx, &profilev1.GetProfileRequest{Tenant: "shop-e2e",
			Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{Email: "E2E@example.com"}}}})
		if err == nil && r.GetProfile().GetCommerce().GetOrderCount() == 2 && r.GetProfile().GetFeedback().GetLastNps() != nil {
			p = r.GetProfile()
			return true
		}
		return false
	})
	if rev := p.GetCommerce().GetByCurrency()[0].GetRevenue().GetAmount(); rev != "2400000" {
		t.Errorf("revenue = %s, want 2400000", rev)
	}
	for _, want := range []string{"promoter", "vip", "repeat"} {
		if !strings.Contains(strings.Join(p.GetSegments(), ","), want) {
			t.Errorf("segments %v lack %s", p.GetSegments(), want)
		}
	}
	if err := profile.Stop(15 * time.Second); err != nil {
		t.Fatalf("profile SIGTERM: %v", err)
	}
	if err := ingest.Stop(15 * time.Second); err != nil {
		t.Fatalf("ingest SIGTERM: %v", err)
	}
}
