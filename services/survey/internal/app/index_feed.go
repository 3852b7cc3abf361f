package app

import (
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/kpi"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// Entry is what the KPI index keeps of an invitation.
func Entry(inv invitation.Invitation) kpi.Entry {
	e := kpi.Entry{Tenant: inv.Tenant, InvitationID: inv.ID, SurveyID: inv.SurveyID, Kind: inv.Kind,
		Agreement: inv.Kind == survey.CES && inv.CesForm == survey.Agreement, Touchpoint: inv.Touchpoint,
		Sent: inv.Status != invitation.Suppressed && inv.Status != invitation.Failed, CreatedAt: inv.CreatedAt, Segments: inv.Segments}
	if a := inv.Answer; a != nil {
		e.Answered, e.RespondedAt, e.Score, e.Sentiment, e.Topics = true, a.RespondedAt, a.Score, a.Sentiment, a.Topics
		if a.Segments != nil {
			e.Segments = a.Segments
		}
	}
	return e
}

// Index puts an invitation, as stored, into the KPI index.
func (a *App) Index(inv invitation.Invitation) { a.index.Put(Entry(inv)) }

// Unpublished reports whether an invitation's answer is stored but not
// published: the start-up sweep republishes those.
func Unpublished(inv invitation.Invitation) bool {
	return inv.Answer != nil && inv.Answer.Published < inv.Answer.Revision
}
