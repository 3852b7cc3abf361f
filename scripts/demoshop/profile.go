package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
)

// showProfile asks the profile service for Sara's profile once it holds
// what the shop sent, and prints what an agent would see.
func showProfile(addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := profilev1.NewProfileServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var p *profilev1.Profile
	for {
		r, err := client.GetProfile(ctx, &profilev1.GetProfileRequest{Tenant: "demo",
			Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{Email: "sara@example.com"}}}})
		if err == nil && r.GetProfile().GetSupport().GetTotalTickets() > 0 {
			p = r.GetProfile()
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("profile not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("\n── The profile service folded it into one profile (%s) ──\n", p.GetProfileId())
	ids := p.GetIdentities()
	fmt.Printf("   identities   customer %v, email %v, phone %v, anonymous visit %v (merged)\n", ids.GetCustomerIds(), ids.GetEmails(), ids.GetPhones(), ids.GetAnonymousIds())
	tr := p.GetTraits()
	fmt.Printf("   traits       %s, locale %s, %s, prefers %s\n", tr.GetFirstName(), tr.GetLocale(), tr.GetTimeZone(), strings.TrimPrefix(tr.GetPreferredChannel().String(), "CHANNEL_"))
	c := p.GetCommerce()
	for _, m := range c.GetByCurrency() {
		fmt.Printf("   commerce     %d order(s), revenue %s %s, AOV %s\n", c.GetOrderCount(), m.GetRevenue().GetAmount(), m.GetCurrency(), m.GetAverageOrderValue().GetAmount())
	}
	s := p.GetSupport()
	fmt.Printf("   support      %d ticket(s), %d open, last topic %q\n", s.GetTotalTickets(), s.GetOpenTickets(), s.GetLastTicketTopic())
	fmt.Printf("   lifecycle    %s; segments %v\n", strings.TrimPrefix(p.GetStage().String(), "LIFECYCLE_STAGE_"), p.GetSegments())
	return nil
}
