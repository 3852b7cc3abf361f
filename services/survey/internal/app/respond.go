package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/token"
)

// ErrLinkInvalid wraps token.ErrMalformed and a token naming an
// invitation that does not exist: the page says the link is not valid.
var ErrLinkInvalid = errors.New("link is not valid")

// Page is what the response page shows for a link.
type Page struct {
	Claims     token.Claims
	Invitation invitation.Invitation
	Survey     survey.Definition
}

// Open verifies a link and loads its invitation and definition. An
// expired link still loads, with token.ErrExpired, so the page can speak
// the customer's language.
func (a *App) Open(ctx context.Context, tok string) (Page, error) {
	c, verr := a.signer.Verify(tok, a.now())
	if errors.Is(verr, token.ErrMalformed) {
		return Page{}, fmt.Errorf("%w: %w", ErrLinkInvalid, verr)
	}
	inv, _, err := a.invs.Get(ctx, c.Tenant, c.InvitationID)
	if errors.Is(err, ErrNotFound) {
		return Page{}, fmt.Errorf("%w: no such invitation", ErrLinkInvalid)
	}
	if err != nil {
		return Page{}, err
	}
	def, err := a.Survey(ctx, inv.Tenant, inv.SurveyID, inv.SurveyVersion)
	if err != nil {
		return Page{}, err
	}
	p := Page{Claims: c, Invitation: inv, Survey: def}
	if verr != nil {
		return p, verr
	}
	if inv.Status == invitation.Suppressed {
		return p, fmt.Errorf("%w: %w", ErrLinkInvalid, invitation.ErrNotAnswerable)
	}
	return p, nil
}

// Respond records a submission from the page for the link's invitation
// and publishes survey.responded for it. The answer is stored before it
// is published; an answer stored but not yet published (the broker was
// down) is published on the next submission or at start-up, under the
// same event id, so it is neither lost nor counted twice.
func (a *App) Respond(ctx context.Context, tok string, s invitation.Submission) (Page, invitation.Outcome, error) {
	p, err := a.Open(ctx, tok)
	if err != nil {
		return p, invitation.Unchanged, err
	}
	segments := p.Invitation.Segments
	if !sameAsStored(p.Invitation.Answer, s) {
		pctx, cancel := shortCtx(ctx, min(a.cfg.ProfileTimeout, pageProfileTimeout))
		if prof, found, err := a.profiles.Lookup(pctx, p.Invitation.Tenant, p.Invitation.Customer, ""); err == nil && found {
			segments = prof.Segments // the segments at answer time
		}
		cancel()
	}
	for range maxAttempts {
		inv, rev, err := a.invs.Get(ctx, p.Invitation.Tenant, p.Invitation.ID)
		if err != nil {
			return p, invitation.Unchanged, err
		}
		out, err := inv.Respond(p.Survey, s, segments, a.now().UTC())
		p.Invitation = inv
		if errors.Is(err, invitation.ErrScanned) {
			// Store the withdrawal, then say why.
			if _, uerr := a.invs.Update(ctx, inv, rev); errors.Is(uerr, ErrConflict) {
				continue
			} else if uerr != nil {
				return p, out, uerr
			}
			return p, out, err
		}
		if err != nil {
			return p, out, err
		}
		if out != invitation.Unchanged {
			if rev, err = a.invs.Update(ctx, inv, rev); errors.Is(err, ErrConflict) {
				continue
			}
			if err != nil {
				return p, out, err
			}
		}
		return p, out, a.publishAnswer(ctx, &p.Invitation, rev)
	}
	return p, invitation.Unchanged, ErrConflict
}

// publishAnswer publishes the answer's revision unless that was done, and
// notes that it was.
func (a *App) publishAnswer(ctx context.Context, inv *invitation.Invitation, rev uint64) error {
	ans := inv.Answer
	if ans == nil || ans.Published >= ans.Revision || !ans.Settled(a.now()) {
		return nil // nothing new, or a one-tap score still settling (the sweep publishes it)
	}
	if err := a.out.Responded(ctx, *inv); err != nil {
		return fmt.Errorf("publishing survey.responded: %w", err)
	}
	ans.Published = ans.Revision
	// Losing this race only means a repeat publish under the same event
	// id, which JetStream and the profile drop.
	if _, err := a.invs.Update(ctx, *inv, rev); err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	return nil
}

// Republish publishes an answer stored but not published; the start-up
// sweep calls it for every such invitation.
func (a *App) Republish(ctx context.Context, tenant, id string) error {
	inv, rev, err := a.invs.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	return a.publishAnswer(ctx, &inv, rev)
}

// sameAsStored reports whether s would leave the stored answer as it is (a
// reload, a second tap), so the profile need not be read for it.
func sameAsStored(a *invitation.Answer, s invitation.Submission) bool {
	return a != nil && (s.Score == nil || *s.Score == a.Score) && (s.Comment == nil || strings.TrimSpace(*s.Comment) == a.Comment)
}
