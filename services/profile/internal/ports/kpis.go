package ports

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	reportv1 "github.com/bazgasht/bazgasht/gen/cx/report/v1"
	"github.com/bazgasht/bazgasht/platform/period"
	"github.com/bazgasht/bazgasht/services/profile/internal/app"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/kpi"
)

// kpiRequest reads the shared parts of a KPI request; a malformed period is
// INVALID_ARGUMENT naming the field.
func kpiRequest(tenant string, p *reportv1.Period, segment, touchpoint string) (app.KPIRequest, error) {
	r := app.KPIRequest{Tenant: tenant, Filter: kpi.Filter{Segment: segment, Touchpoint: touchpoint}}
	if p == nil {
		return r, statusOf(fmt.Errorf("%w: period: is required", app.ErrInvalid))
	}
	loc, err := period.LoadLocation(p.GetTimeZone())
	if err != nil {
		return r, statusOf(fmt.Errorf("%w: %v", app.ErrInvalid, err))
	}
	r.Period = period.Spec{Granularity: period.Granularity(p.GetGranularity()), Location: loc}
	if p.GetStartTime() != nil {
		r.Period.Start = p.GetStartTime().AsTime()
	}
	if p.GetEndTime() != nil {
		r.Period.End = p.GetEndTime().AsTime()
	}
	if p.GetCalendar() == reportv1.Calendar_CALENDAR_JALALI {
		r.Period.Calendar = period.Jalali
	}
	return r, nil
}

func bounds(b period.Bounds) *reportv1.PeriodBounds {
	return &reportv1.PeriodBounds{StartTime: ts(b.Start), EndTime: ts(b.End), Label: b.Label}
}

// GetCommerceKPIs reports commerce KPIs per period and in total.
func (g *GRPC) GetCommerceKPIs(ctx context.Context, req *profilev1.GetCommerceKPIsRequest) (*profilev1.GetCommerceKPIsResponse, error) {
	r, err := kpiRequest(req.GetTenant(), req.GetPeriod(), req.GetSegment(), req.GetTouchpoint())
	if err != nil {
		return nil, err
	}
	r.Cohort = period.Granularity(req.GetCohortGranularity())
	k, err := g.q.CommerceKPIs(ctx, r)
	if err != nil {
		return nil, statusOf(err)
	}
	resp := &profilev1.GetCommerceKPIsResponse{Total: commercePeriod(k.Total), CustomersAtRisk: k.CustomersAtRisk, CustomersChurned: k.CustomersChurned,
		AtRiskAfter: durationpb.New(k.AtRiskAfter), ChurnedAfter: durationpb.New(k.ChurnedAfter)}
	for _, p := range k.Periods {
		resp.Periods = append(resp.Periods, commercePeriod(p))
	}
	for _, c := range k.Cohorts {
		resp.Cohorts = append(resp.Cohorts, &profilev1.Cohort{Bounds: bounds(c.Bounds), Size: c.Size, Retained: c.Retained, RetentionRate: c.RetentionRate, Churned: c.Churned})
	}
	return resp, nil
}

func commercePeriod(p kpi.CommercePeriod) *profilev1.CommerceKPIs {
	out := &profilev1.CommerceKPIs{Bounds: bounds(p.Bounds), Customers: p.Customers, NewCustomers: p.NewCustomers, RepeatCustomers: p.RepeatCustomers,
		RepeatPurchaseRate: p.RepeatPurchaseRate, Orders: p.Orders}
	for _, c := range p.ByCurrency {
		m := func(a string) *journeyv1.Money { return moneyOf(c.Currency, a) }
		out.ByCurrency = append(out.ByCurrency, &profilev1.CurrencyKPIs{Currency: c.Currency, Orders: c.Orders, Revenue: m(c.Revenue), AverageOrderValue: m(c.AOV),
			Clv: &profilev1.ClvDistribution{Mean: m(c.CLV.Mean), P25: m(c.CLV.P25), P50: m(c.CLV.P50), P75: m(c.CLV.P75), P90: m(c.CLV.P90), P99: m(c.CLV.P99)}})
	}
	return out
}

// GetSupportKPIs reports ticket KPIs per period and in total.
func (g *GRPC) GetSupportKPIs(ctx context.Context, req *profilev1.GetSupportKPIsRequest) (*profilev1.GetSupportKPIsResponse, error) {
	r, err := kpiRequest(req.GetTenant(), req.GetPeriod(), req.GetSegment(), req.GetTouchpoint())
	if err != nil {
		return nil, err
	}
	k, err := g.q.SupportKPIs(ctx, r)
	if err != nil {
		return nil, statusOf(err)
	}
	resp := &profilev1.GetSupportKPIsResponse{Total: supportPeriod(k.Total)}
	for _, p := range k.Periods {
		resp.Periods = append(resp.Periods, supportPeriod(p))
	}
	return resp, nil
}

func supportPeriod(p kpi.SupportPeriod) *profilev1.SupportKPIs {
	out := &profilev1.SupportKPIs{Bounds: bounds(p.Bounds), Opened: p.Opened, Resolved: p.Resolved, Reopened: p.Reopened, ReopenRate: p.ReopenRate,
		ResolutionTimeP50: durationpb.New(p.ResolutionP50), ResolutionTimeP90: durationpb.New(p.ResolutionP90),
		FirstContactResolved: p.FirstContactResolved, FirstContactResolutionRate: p.FirstContactResolutionRate}
	for _, t := range p.ByTopic {
		out.ByTopic = append(out.ByTopic, &profilev1.TopicVolume{Topic: t.Topic, Opened: t.Opened, Resolved: t.Resolved, Reopened: t.Reopened})
	}
	return out
}
