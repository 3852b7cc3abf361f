package app

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/token"
)

// InviteRequest asks to invite a customer to a survey about a touchpoint.
type InviteRequest struct {
	Tenant, SurveyID string
	Customer         invitation.Customer
	Touchpoint       string
	Channel          invitation.Channel
	Transactional    bool
	Locale           string
	CauseEventID     string
}

// maxAttempts bounds compare-and-set retries; each lost race means
// another request made progress.
const maxAttempts = 10

var invitationIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

var localeRE = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

func (r InviteRequest) validate() error {
	if err := checkTenant(r.Tenant); err != nil {
		return err
	}
	if err := survey.CheckID("survey_id", r.SurveyID); err != nil {
		return err
	}
	if r.Customer.Key() == "" {
		return &survey.FieldError{Field: "customer", Reason: "at least one identity is required"}
	}
	if len(r.Customer.Key()) > 256 {
		return &survey.FieldError{Field: "customer", Reason: "identities are at most 256 characters"}
	}
	if err := invitation.CheckTouchpoint("touchpoint", r.Touchpoint); err != nil {
		return err
	}
	if r.Channel != invitation.AnyChannel && r.Channel != invitation.Email && r.Channel != invitation.SMS {
		return &survey.FieldError{Field: "channel", Reason: "only CHANNEL_EMAIL and CHANNEL_SMS carry invitations"}
	}
	if r.Locale != "" && !localeRE.MatchString(r.Locale) {
		return &survey.FieldError{Field: "locale", Reason: fmt.Sprintf("%q is not a language tag such as \"fa\" or \"en\"", r.Locale)}
	}
	if len(r.CauseEventID) > 128 {
		return &survey.FieldError{Field: "cause_event_id", Reason: "at most 128 characters"}
	}
	return nil
}

// Invite makes the invitation and sends it, or returns the one made
// before for the same tenant, survey, customer and touchpoint. A repeat
// of a request that failed half-way finishes what the first began: every
// step is idempotent under the invitation id.
func (a *App) Invite(ctx context.Context, r InviteRequest) (inv invitation.Invitation, duplicate bool, err error) {
	if err := r.validate(); err != nil {
		return inv, false, err
	}
	def, err := a.Survey(ctx, r.Tenant, r.SurveyID, 0)
	if err != nil {
		return inv, false, err
	}
	id := invitation.ID(r.Tenant, r.SurveyID, r.Customer.Key(), r.Touchpoint)
	for range maxAttempts {
		inv, rev, err := a.invs.Get(ctx, r.Tenant, id)
		switch {
		case err == nil:
			if inv.Status == invitation.Pending {
				inv, err = a.deliver(ctx, inv, rev)
			}
			return inv, true, err
		case !errors.Is(err, ErrNotFound):
			return inv, false, err
		case def.Archived:
			return inv, false, ErrArchived
		}
		inv, err = a.newInvitation(ctx, r, def, id)
		if err != nil {
			return inv, false, err
		}
		rev, err = a.invs.Create(ctx, inv)
		if errors.Is(err, ErrExists) {
			continue // a concurrent request made it: answer with that one
		}
		if err != nil {
			return inv, false, err
		}
		if inv.Status == invitation.Suppressed {
			return inv, false, nil
		}
		inv, err = a.deliver(ctx, inv, rev)
		return inv, false, err
	}
	return inv, false, ErrConflict
}

// newInvitation decides locale, channel and suppression, and claims the
// customer's fatigue period when the invitation goes out.
func (a *App) newInvitation(ctx context.Context, r InviteRequest, def survey.Definition, id string) (invitation.Invitation, error) {
	now := a.now().UTC()
	inv := invitation.Invitation{ID: id, Tenant: r.Tenant, SurveyID: def.ID, SurveyVersion: def.Version, Kind: def.Kind, CesForm: def.CesForm,
		Customer: r.Customer, Touchpoint: r.Touchpoint, Channel: r.Channel, Transactional: r.Transactional, Status: invitation.Pending,
		NotificationID: "survey:" + id, CauseEventID: r.CauseEventID, CreatedAt: now, ExpiresAt: now.Add(a.linkTTL(def))}
	pctx, cancel := shortCtx(ctx, a.cfg.ProfileTimeout)
	prof, found, err := a.profiles.Lookup(pctx, r.Tenant, r.Customer, r.CauseEventID)
	cancel()
	if err != nil {
		// Without the profile neither the locale nor the fatigue key is
		// right: leave the request for a retry.
		return inv, fmt.Errorf("reading the profile: %w", err)
	}
	fatigueKey := "k:" + r.Customer.Key()
	locale := r.Locale
	if found {
		fatigueKey = "p:" + prof.ID
		inv.Segments = prof.Segments
		if locale == "" {
			locale = prof.Locale
		}
		if inv.Channel == invitation.AnyChannel && (prof.PreferredChannel == invitation.Email || prof.PreferredChannel == invitation.SMS) {
			inv.Channel = prof.PreferredChannel
		}
	}
	if locale == "" {
		locale = a.cfg.DefaultLocale
	}
	inv.Locale = def.TextFor(locale).Locale
	hasEmail := r.Customer.Email != "" || prof.HasEmail
	hasPhone := r.Customer.Phone != "" || prof.HasPhone
	if (inv.Channel == invitation.Email && !hasEmail) || (inv.Channel == invitation.SMS && !hasPhone) || (!hasEmail && !hasPhone) {
		inv.Status, inv.Reason = invitation.Suppressed, invitation.NoChannel
		return inv, nil
	}
	if r.Transactional {
		return inv, nil // exempt: neither held back nor starting the period
	}
	for range maxAttempts {
		claim, rev, err := a.fatigue.Get(ctx, r.Tenant, fatigueKey)
		if err != nil {
			return inv, err
		}
		if claim.InvitationID == id && rev != 0 {
			return inv, nil // claimed by an earlier attempt of this invitation
		}
		if invitation.Fatigued(claim.At, now, a.cfg.FatiguePeriod) {
			inv.Status, inv.Reason = invitation.Suppressed, invitation.Fatigue
			return inv, nil
		}
		err = a.fatigue.Put(ctx, r.Tenant, fatigueKey, FatigueClaim{At: now, InvitationID: id}, rev)
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrExists) {
			continue // another invitation claimed the customer: look again
		}
		if err == nil {
			inv.FatigueKey = fatigueKey
		}
		return inv, err
	}
	return inv, ErrConflict
}

// deliver sends a pending invitation and records it as sent.
func (a *App) deliver(ctx context.Context, inv invitation.Invitation, rev uint64) (invitation.Invitation, error) {
	def, err := a.Survey(ctx, inv.Tenant, inv.SurveyID, inv.SurveyVersion)
	if err != nil {
		return inv, err
	}
	if err := a.out.SendInvitation(ctx, inv, def.Template(), a.Variables(inv, def)); err != nil {
		return inv, fmt.Errorf("sending the invitation: %w", err)
	}
	if err := a.out.Invited(ctx, inv); err != nil {
		return inv, fmt.Errorf("publishing survey.invited: %w", err)
	}
	for range maxAttempts {
		if inv.Status != invitation.Pending {
			return inv, nil // answered already, faster than we could note the send
		}
		inv.Status = invitation.Sent
		_, err := a.invs.Update(ctx, inv, rev)
		if !errors.Is(err, ErrConflict) {
			return inv, err
		}
		if inv, rev, err = a.invs.Get(ctx, inv.Tenant, inv.ID); err != nil {
			return inv, err
		}
	}
	return inv, ErrConflict
}

// Variables are the template variables of an invitation, as the
// notification service's survey-invitation template expects them.
func (a *App) Variables(inv invitation.Invitation, def survey.Definition) map[string]string {
	lo, hi := def.Kind.Scale()
	text := def.TextFor(inv.Locale)
	claims := token.Claims{Tenant: inv.Tenant, InvitationID: inv.ID, Expires: inv.ExpiresAt, Score: token.NoScore}
	v := map[string]string{
		"survey_url": a.Link(a.signer.Sign(claims)), "survey_id": inv.SurveyID, "survey_kind": def.Kind.String(),
		"touchpoint": inv.Touchpoint, "invitation_id": inv.ID, "question": text.Question, "shop_name": def.Branding.ShopName,
		"scale_min": strconv.Itoa(lo), "scale_max": strconv.Itoa(hi), "locale": inv.Locale,
		"low_label": text.LowLabel, "high_label": text.HighLabel,
	}
	for n := lo; n <= hi; n++ {
		claims.Score = n
		v["score_url_"+strconv.Itoa(n)] = a.Link(a.signer.Sign(claims))
	}
	return v
}

// Invitation returns one of the tenant's invitations.
func (a *App) Invitation(ctx context.Context, tenant, id string) (invitation.Invitation, error) {
	if err := checkTenant(tenant); err != nil {
		return invitation.Invitation{}, err
	}
	if !invitationIDRE.MatchString(id) {
		return invitation.Invitation{}, &survey.FieldError{Field: "invitation_id", Reason: "required: letters, digits, \"-\" or \"_\", at most 64"}
	}
	inv, _, err := a.invs.Get(ctx, tenant, id)
	if err == nil && (inv.Status == invitation.Sent || inv.Status == invitation.Pending) && !a.now().Before(inv.ExpiresAt) {
		inv.Status = invitation.Expired // its link no longer works
	}
	return inv, err
}
