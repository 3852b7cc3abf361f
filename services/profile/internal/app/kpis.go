package app

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/bazgasht/bazgasht/platform/period"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/kpi"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

// KPIRequest is what a KPI report covers.
type KPIRequest struct {
	Tenant string
	Period period.Spec
	Filter kpi.Filter
	// Cohort is the cohort length of the commerce report (month when 0).
	Cohort period.Granularity
}

func (q *Queries) kpiProfiles(ctx context.Context, r KPIRequest) (iter.Seq[*profile.Profile], func() error, error) {
	if err := r.Period.Validate(); err != nil {
		var fe *period.FieldError
		if errors.As(err, &fe) {
			return nil, nil, invalid(fe.Field, "%s", fe.Reason)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	all, err := q.Profiles(ctx, r.Tenant)
	if err != nil {
		return nil, nil, err
	}
	var failed error
	seq := func(yield func(*profile.Profile) bool) {
		for p, err := range all {
			if err != nil {
				failed = err
				return
			}
			if !yield(p) {
				return
			}
		}
	}
	return seq, func() error { return failed }, nil
}

// CommerceKPIs reports customers, orders, revenue, AOV, CLV, repeat
// purchase, cohort retention and churn over the tenant's profiles.
func (q *Queries) CommerceKPIs(ctx context.Context, r KPIRequest) (kpi.CommerceKPIs, error) {
	profiles, failed, err := q.kpiProfiles(ctx, r)
	if err != nil {
		return kpi.CommerceKPIs{}, err
	}
	rules, err := q.RulesFor(ctx, r.Tenant)
	if err != nil {
		return kpi.CommerceKPIs{}, err
	}
	out := kpi.Commerce(profiles, r.Period, q.now(), rules, r.Filter, r.Cohort)
	return out, failed()
}

// SupportKPIs reports ticket volume by topic, reopen rate, time to
// resolution and first-contact resolution.
func (q *Queries) SupportKPIs(ctx context.Context, r KPIRequest) (kpi.SupportKPIs, error) {
	profiles, failed, err := q.kpiProfiles(ctx, r)
	if err != nil {
		return kpi.SupportKPIs{}, err
	}
	rules, err := q.RulesFor(ctx, r.Tenant)
	if err != nil {
		return kpi.SupportKPIs{}, err
	}
	out := kpi.Support(profiles, r.Period, q.now(), rules, r.Filter)
	return out, failed()
}
