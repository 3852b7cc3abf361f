package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/proctest"
)

// The real binary refuses a short link key with the reason, and with a
// good one serves its page, admin and gRPC ports and stops cleanly on
// SIGTERM.
func TestBinaryStartsOnlyWithAGoodKey(t *testing.T) {
	bin := proctest.Build(t, "github.com/bazgasht/bazgasht/services/survey/cmd/survey")
	srv := natstest.Start(t)
	short := proctest.Start(t, bin, "NATS_URL="+srv.URL, "SURVEY_LINK_KEY=00112233", "SURVEY_ADMIN_ADDR="+proctest.FreeAddr(t),
		"SURVEY_HTTP_ADDR="+proctest.FreeAddr(t), "SURVEY_GRPC_ADDR="+proctest.FreeAddr(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if exited, err := short.Exited(ctx); !exited || err == nil || !strings.Contains(short.Output(), "SURVEY_LINK_KEY is 4 bytes; at least 32") {
		t.Fatalf("a short key: exited %v, %v\n%s", exited, err, short.Output())
	}

	admin, page := proctest.FreeAddr(t), proctest.FreeAddr(t)
	p := proctest.Start(t, bin, "NATS_URL="+srv.URL, "SURVEY_LINK_KEY="+strings.Repeat("5a", 32), "SURVEY_ADMIN_ADDR="+admin,
		"SURVEY_HTTP_ADDR="+page, "SURVEY_GRPC_ADDR="+proctest.FreeAddr(t), "SURVEY_PROFILE_ADDR="+proctest.FreeAddr(t))
	p.WaitReady(t, "http://"+admin+"/readyz", 20*time.Second)
	resp, err := http.Get("http://" + page + "/s/not-a-token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page for a bad token = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.Output())
	}
}
