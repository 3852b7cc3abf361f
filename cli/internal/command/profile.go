package command

import (
	"fmt"
	"strings"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
)

// customerRef reads IDENTITY: customer:ID, email:ADDR, phone:NUMBER,
// anon:ID, or a profile id.
func customerRef(s string) (*profilev1.CustomerRef, error) {
	kind, value, ok := strings.Cut(s, ":")
	c := &journeyv1.Customer{}
	switch {
	case !ok && strings.HasPrefix(s, "p_"):
		return &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_ProfileId{ProfileId: s}}, nil
	case !ok || value == "":
		return nil, usagef("identity %q: want customer:ID, email:ADDR, phone:NUMBER, anon:ID or a profile id (p_…)", s)
	case kind == "customer" || kind == "id":
		c.CustomerId = value
	case kind == "email":
		c.Email = value
	case kind == "phone":
		c.Phone = value
	case kind == "anon":
		c.AnonymousId = value
	default:
		return nil, usagef("identity kind %q: want customer, email, phone or anon", kind)
	}
	return &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: c}}, nil
}

func profileCmd(e *env, args []string) error {
	args, err := e.flags("profile", args, nil)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("give one IDENTITY")
	}
	ref, err := customerRef(args[0])
	if err != nil {
		return err
	}
	conn, err := e.conn(e.profile)
	if err != nil {
		return err
	}
	ctx, cancel := e.rpcCtx()
	defer cancel()
	resp, err := profilev1.NewProfileServiceClient(conn).GetProfile(ctx, &profilev1.GetProfileRequest{Tenant: e.tenant, Customer: ref})
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(resp.GetProfile())
	}
	p := resp.GetProfile()
	ids := p.GetIdentities()
	rows := [][]string{
		{"profile", p.GetProfileId()},
		{"identities", strings.Join(nonEmpty(
			labelled("customer", ids.GetCustomerIds()), labelled("email", ids.GetEmails()),
			labelled("phone", ids.GetPhones()), labelled("anon", ids.GetAnonymousIds())), ", ")},
		{"name", strings.TrimSpace(p.GetTraits().GetFirstName() + " " + p.GetTraits().GetLastName())},
		{"locale / zone", p.GetTraits().GetLocale() + " / " + p.GetTraits().GetTimeZone()},
		{"prefers", trimEnum(p.GetTraits().GetPreferredChannel().String(), "CHANNEL_")},
		{"stage", trimEnum(p.GetStage().String(), "LIFECYCLE_STAGE_")},
		{"segments", strings.Join(p.GetSegments(), ", ")},
		{"orders", fmt.Sprint(p.GetCommerce().GetOrderCount())},
	}
	for _, c := range p.GetCommerce().GetByCurrency() {
		rows = append(rows, []string{"revenue " + c.GetCurrency(), c.GetRevenue().GetAmount() + " (AOV " + c.GetAverageOrderValue().GetAmount() + ")"})
	}
	s := p.GetSupport()
	rows = append(rows, []string{"tickets", fmt.Sprintf("%d (%d open), last topic %q", s.GetTotalTickets(), s.GetOpenTickets(), s.GetLastTicketTopic())})
	for _, sc := range []struct {
		kind  string
		score *profilev1.Score
	}{{"NPS", p.GetFeedback().GetLastNps()}, {"CSAT", p.GetFeedback().GetLastCsat()}, {"CES", p.GetFeedback().GetLastCes()}} {
		if sc.score != nil {
			rows = append(rows, []string{"last " + sc.kind, fmt.Sprintf("%d (%s, %s)", sc.score.GetScore(), sc.score.GetSurveyId(), stamp(sc.score.GetRespondedAt().AsTime()))})
		}
	}
	e.table([]string{"FIELD", "VALUE"}, rows)
	return nil
}

func labelled(kind string, vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return kind + " " + strings.Join(vs, " ")
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func timeline(e *env, args []string) error {
	limit := 20
	pos, err := e.flags("timeline", args, func(fs *flagSet) { fs.IntVar(&limit, "limit", 20, "most events shown") })
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one IDENTITY")
	}
	if limit < 1 || limit > 1000 {
		return usagef("-limit %d: between 1 and 1000", limit)
	}
	ref, err := customerRef(pos[0])
	if err != nil {
		return err
	}
	conn, err := e.conn(e.profile)
	if err != nil {
		return err
	}
	ctx, cancel := e.rpcCtx()
	defer cancel()
	resp, err := profilev1.NewProfileServiceClient(conn).GetTimeline(ctx, &profilev1.GetTimelineRequest{Tenant: e.tenant, Customer: ref, PageSize: int32(limit)})
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(resp)
	}
	rows := make([][]string, 0, len(resp.GetEvents()))
	for _, ev := range resp.GetEvents() {
		rows = append(rows, []string{stamp(ev.GetOccurredAt().AsTime()), ev.GetType(), ev.GetId(), ev.GetSource()})
	}
	e.table([]string{"WHEN", "TYPE", "ID", "SOURCE"}, rows)
	return nil
}
