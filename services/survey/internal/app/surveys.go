package app

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// Survey returns a tenant's definition at version (0: current): the
// tenant's own, else the default of that id.
func (a *App) Survey(ctx context.Context, tenant, id string, version int) (survey.Definition, error) {
	if err := checkTenant(tenant); err != nil {
		return survey.Definition{}, err
	}
	if err := survey.CheckID("survey_id", id); err != nil {
		return survey.Definition{}, err
	}
	if version < 0 {
		return survey.Definition{}, &survey.FieldError{Field: "version", Reason: "must not be negative"}
	}
	var d survey.Definition
	var err error
	if version == 0 {
		d, _, err = a.defs.Current(ctx, tenant, id)
	} else {
		d, err = a.defs.Version(ctx, tenant, id, version)
	}
	if errors.Is(err, ErrNotFound) {
		if def, ok := survey.Default(id); ok && (version == 0 || version == 1) {
			return a.brand(tenant, def), nil
		}
	}
	if err != nil {
		return survey.Definition{}, err
	}
	return a.brand(tenant, d), nil
}

// brand fills the shop name from the configuration when the definition
// has none.
func (a *App) brand(tenant string, d survey.Definition) survey.Definition {
	if d.Branding.ShopName == "" {
		d.Branding.ShopName = a.cfg.ShopNames[tenant]
	}
	if d.Branding.ShopName == "" {
		d.Branding.ShopName = tenant
	}
	return d
}

// CreateSurvey stores a new definition as version 1; an empty id is made
// from the kind and the time.
func (a *App) CreateSurvey(ctx context.Context, tenant string, d survey.Definition) (survey.Definition, error) {
	if err := checkTenant(tenant); err != nil {
		return d, err
	}
	if d.ID == "" && d.Kind.Valid() {
		d.ID = d.Kind.String() + "-" + strings.ToLower(strings.ReplaceAll(a.now().UTC().Format("20060102-150405.000"), ".", "-"))
	}
	if err := d.Validate(); err != nil {
		return d, err
	}
	if _, ok := survey.Default(d.ID); ok {
		return d, ErrExists // the default of that id is already there
	}
	d.Version, d.Builtin, d.UpdatedAt = 1, false, a.now().UTC()
	if err := a.defs.Save(ctx, tenant, d, 0); err != nil {
		return d, err
	}
	return a.brand(tenant, d), nil
}

// UpdateSurvey stores d as the next version of its survey; the kind
// cannot change. expected 0 skips the version check.
func (a *App) UpdateSurvey(ctx context.Context, tenant string, d survey.Definition, expected int) (survey.Definition, error) {
	if err := checkTenant(tenant); err != nil {
		return d, err
	}
	if expected < 0 {
		return d, &survey.FieldError{Field: "expected_version", Reason: "must not be negative"}
	}
	if err := d.Validate(); err != nil {
		return d, err
	}
	for range maxAttempts {
		cur, rev, err := a.defs.Current(ctx, tenant, d.ID)
		if errors.Is(err, ErrNotFound) {
			def, ok := survey.Default(d.ID)
			if !ok {
				return d, err
			}
			cur, rev, err = def, 0, nil
		}
		if err != nil {
			return d, err
		}
		if expected != 0 && expected != cur.Version {
			return d, ErrStaleVersion
		}
		if d.Kind != cur.Kind {
			return d, &survey.FieldError{Field: "survey.kind", Reason: "cannot change after create (it is " + cur.Kind.String() + ")"}
		}
		d.Version, d.Builtin, d.UpdatedAt = cur.Version+1, cur.Builtin, a.now().UTC()
		err = a.defs.Save(ctx, tenant, d, rev)
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrExists) {
			continue
		}
		if err != nil {
			return d, err
		}
		return a.brand(tenant, d), nil
	}
	return d, ErrStaleVersion
}

// ListFilter narrows ListSurveys.
type ListFilter struct {
	Kind            survey.Kind
	IncludeArchived bool
}

// ListSurveys returns the current version of every definition the tenant
// has, the default set included, sorted by id.
func (a *App) ListSurveys(ctx context.Context, tenant string, f ListFilter) ([]survey.Definition, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	own, err := a.defs.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	all := own
	for _, d := range survey.Defaults() {
		if !slices.ContainsFunc(own, func(o survey.Definition) bool { return o.ID == d.ID }) {
			all = append(all, d)
		}
	}
	out := all[:0:0]
	for _, d := range all {
		if (f.Kind != 0 && d.Kind != f.Kind) || (d.Archived && !f.IncludeArchived) {
			continue
		}
		out = append(out, a.brand(tenant, d))
	}
	slices.SortFunc(out, func(x, y survey.Definition) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}
