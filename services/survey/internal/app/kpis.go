package app

import (
	"context"
	"strings"

	"github.com/bazgasht/bazgasht/platform/period"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/kpi"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// KPIRequest asks for score KPIs.
type KPIRequest struct {
	Tenant    string
	Period    period.Spec
	Filter    kpi.Filter
	TopTopics int
}

// ScoreKPIs answers from the in-memory index, which holds every
// invitation: a scan of a million answers takes milliseconds.
func (a *App) ScoreKPIs(_ context.Context, r KPIRequest) (kpi.Result, error) {
	if err := checkTenant(r.Tenant); err != nil {
		return kpi.Result{}, err
	}
	if err := r.Period.Validate(); err != nil {
		return kpi.Result{}, err
	}
	if r.Filter.SurveyID != "" {
		if err := survey.CheckID("survey_id", r.Filter.SurveyID); err != nil {
			return kpi.Result{}, err
		}
	}
	if r.Filter.Touchpoint != "" && (len(r.Filter.Touchpoint) > 128 || strings.ContainsAny(r.Filter.Touchpoint, " \t\n")) {
		return kpi.Result{}, &survey.FieldError{Field: "touchpoint", Reason: "at most 128 characters without spaces"}
	}
	switch {
	case r.TopTopics < 0 || r.TopTopics > 50:
		return kpi.Result{}, &survey.FieldError{Field: "top_topics", Reason: "must be 0 (10) to 50"}
	case r.TopTopics == 0:
		r.TopTopics = 10
	}
	return a.index.Query(r.Tenant, r.Filter, r.Period, r.TopTopics), nil
}
