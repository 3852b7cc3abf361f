// Package ports is how the world reaches the ingest service: the HTTP JSON
// API, shop webhooks and gRPC. Handlers decode, authenticate and validate
// the shape of a request, call the app, and map its answer to status codes.
package ports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/services/ingest/internal/app"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
)

// Limits bound what one request may carry.
type Limits struct {
	// EventBytes bounds the body of POST /v1/events and of a webhook.
	EventBytes int64
	// BatchBytes bounds the body of POST /v1/events:batch.
	BatchBytes int64
	// RetryAfter is what 503 answers tell a client to wait.
	RetryAfter time.Duration
}

// Publisher is the use case the ports drive.
type Publisher interface {
	Handle(ctx context.Context, cmd app.PublishEvents) ([]app.Result, error)
}

// HTTP serves the public HTTP API.
type HTTP struct {
	app     Publisher
	tenants *tenant.Directory
	limits  Limits
	log     *slog.Logger
	metrics *Metrics
}

// NewHTTP checks its dependencies.
func NewHTTP(p Publisher, tenants *tenant.Directory, limits Limits, log *slog.Logger, m *Metrics) (*HTTP, error) {
	if p == nil || tenants == nil || log == nil || m == nil {
		return nil, errors.New("ports: publisher, tenants, logger and metrics are required")
	}
	return &HTTP{app: p, tenants: tenants, limits: limits, log: log, metrics: m}, nil
}

// Handler routes the API.
func (h *HTTP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", h.postEvent)
	mux.HandleFunc("POST /v1/events:batch", h.postBatch)
	mux.HandleFunc("POST /v1/webhooks/shopify/{tenant}", h.postShopify)
	mux.HandleFunc("POST /v1/webhooks/woocommerce/{tenant}", h.postWooCommerce)
	return mux
}

// apiError is the body of every error answer.
type apiError struct {
	Error struct {
		Code    string               `json:"code"`
		Message string               `json:"message"`
		Fields  []journey.FieldError `json:"fields,omitempty"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *HTTP) fail(w http.ResponseWriter, status int, code, msg string, fields journey.Errors) {
	h.metrics.Rejections.WithLabelValues(code).Inc()
	var e apiError
	e.Error.Code, e.Error.Message, e.Error.Fields = code, msg, fields
	writeJSON(w, status, e)
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Max(1, math.Ceil(d.Seconds())))))
}

// authenticate returns the tenant of the request's bearer key, or answers 401.
func (h *HTTP) authenticate(w http.ResponseWriter, r *http.Request) *tenant.Tenant {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bazgasht"`)
		h.fail(w, http.StatusUnauthorized, "unauthenticated", "send the tenant's API key as Authorization: Bearer <key>", nil)
		return nil
	}
	t, err := h.tenants.Authenticate(strings.TrimSpace(key))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bazgasht", error="invalid_token"`)
		h.fail(w, http.StatusUnauthorized, "unauthenticated", "the API key is not valid", nil)
		return nil
	}
	return t
}

// readBody checks the content type and reads at most limit bytes, answering
// 415 or 413 itself.
func (h *HTTP) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		h.fail(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json", nil)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.fail(w, http.StatusRequestEntityTooLarge, "too_large", "the body is larger than "+strconv.FormatInt(limit, 10)+" bytes", nil)
			return nil, false
		}
		h.fail(w, http.StatusBadRequest, "unreadable_body", "the body could not be read: "+err.Error(), nil)
		return nil, false
	}
	return body, true
}

// publish runs the use case and answers the errors that concern the whole
// call (rate limit). It returns the results or nil when it answered.
func (h *HTTP) publish(w http.ResponseWriter, r *http.Request, cmd app.PublishEvents) []app.Result {
	results, err := h.app.Handle(r.Context(), cmd)
	var limited *app.RateLimitedError
	switch {
	case errors.As(err, &limited):
		retryAfter(w, limited.RetryAfter)
		h.fail(w, http.StatusTooManyRequests, "rate_limited", "tenant "+cmd.Tenant.ID+" is over its event rate; retry after the Retry-After seconds", nil)
		return nil
	case err != nil:
		h.log.ErrorContext(r.Context(), "publish failed", "err", err)
		h.fail(w, http.StatusInternalServerError, "internal", "the events could not be processed", nil)
		return nil
	}
	for _, res := range results {
		h.metrics.Events.WithLabelValues(cmd.Source, res.Outcome.String()).Inc()
		if res.Outcome == app.Rejected {
			// In a batch too, where the request itself succeeds.
			h.metrics.Rejections.WithLabelValues("invalid_event").Inc()
		}
	}
	return results
}

// eventResult is one event's outcome in a response body.
type eventResult struct {
	Index  int                  `json:"index"`
	ID     string               `json:"id,omitempty"`
	Status string               `json:"status"`
	Errors []journey.FieldError `json:"errors,omitempty"`
}

func toResult(r app.Result) eventResult {
	return eventResult{Index: r.Index, ID: r.ID, Status: r.Outcome.String(), Errors: r.Errors}
}

// postEvent handles POST /v1/events: 202 stored, 200 duplicate, 400 invalid.
func (h *HTTP) postEvent(w http.ResponseWriter, r *http.Request) {
	t := h.authenticate(w, r)
	if t == nil {
		return
	}
	body, ok := h.readBody(w, r, h.limits.EventBytes)
	if !ok {
		return
	}
	ev, errs := journey.DecodeJSON(body)
	results := h.publish(w, r, app.PublishEvents{Tenant: t, Source: "api", Events: []app.Input{{Event: ev, Errors: errs}}})
	if results == nil {
		return
	}
	h.answerOne(w, results[0])
}

func (h *HTTP) answerOne(w http.ResponseWriter, res app.Result) {
	switch res.Outcome {
	case app.Accepted:
		writeJSON(w, http.StatusAccepted, toResult(res))
	case app.Duplicate:
		writeJSON(w, http.StatusOK, toResult(res))
	case app.Rejected: // counted as a rejection by publish
		var e apiError
		e.Error.Code, e.Error.Message, e.Error.Fields = "invalid_event", res.Errors.Error(), res.Errors
		writeJSON(w, http.StatusBadRequest, e)
	default:
		retryAfter(w, h.limits.RetryAfter)
		h.fail(w, http.StatusServiceUnavailable, "unavailable", "the event store did not acknowledge in time; nothing is lost by sending the event again", nil)
	}
}

// batchResponse is the body of a batch answer.
type batchResponse struct {
	Accepted    int           `json:"accepted"`
	Duplicates  int           `json:"duplicates"`
	Rejected    int           `json:"rejected"`
	Unavailable int           `json:"unavailable"`
	Results     []eventResult `json:"results"`
}

// postBatch handles POST /v1/events:batch. 200 when at least one event was
// stored or was a duplicate, 400 when every event was rejected, 503 (with
// the results) when any event could not be stored: sending the whole batch
// again is safe, stored events come back as duplicates.
func (h *HTTP) postBatch(w http.ResponseWriter, r *http.Request) {
	t := h.authenticate(w, r)
	if t == nil {
		return
	}
	body, ok := h.readBody(w, r, h.limits.BatchBytes)
	if !ok {
		return
	}
	var req struct {
		Events []json.RawMessage `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		field, reason := batchEnvelopeError(err)
		h.fail(w, http.StatusBadRequest, "invalid_batch", `the body must be {"events": [ ... ]}: `+reason, journey.Errors{{Field: field, Reason: reason}})
		return
	}
	switch {
	case len(req.Events) == 0:
		h.fail(w, http.StatusBadRequest, "invalid_batch", "events is empty", journey.Errors{{Field: "events", Reason: "must hold 1 to 1000 events"}})
		return
	case len(req.Events) > app.MaxBatch:
		h.fail(w, http.StatusRequestEntityTooLarge, "too_large", "a batch holds at most 1000 events; split it", journey.Errors{{Field: "events", Reason: "has " + strconv.Itoa(len(req.Events)) + " events; at most 1000"}})
		return
	}
	inputs := make([]app.Input, len(req.Events))
	for i, raw := range req.Events {
		inputs[i].Event, inputs[i].Errors = journey.DecodeJSON(raw)
	}
	results := h.publish(w, r, app.PublishEvents{Tenant: t, Source: "api", Events: inputs})
	if results == nil {
		return
	}
	resp := batchResponse{Results: make([]eventResult, len(results))}
	for i, res := range results {
		resp.Results[i] = toResult(res)
		switch res.Outcome {
		case app.Accepted:
			resp.Accepted++
		case app.Duplicate:
			resp.Duplicates++
		case app.Rejected:
			resp.Rejected++
		default:
			resp.Unavailable++
		}
	}
	status := http.StatusOK
	switch {
	case resp.Unavailable > 0:
		retryAfter(w, h.limits.RetryAfter)
		status = http.StatusServiceUnavailable
	case resp.Rejected == len(results):
		status = http.StatusBadRequest
	}
	writeJSON(w, status, resp)
}

// batchEnvelopeError says, in the API's terms, what is wrong with a batch
// body's envelope: which field, and why — not Go's type names.
func batchEnvelopeError(err error) (field, reason string) {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "body", "is " + jsonKind(typeErr.Value) + "; send an object"
	case errors.As(err, &typeErr):
		return typeErr.Field, "is " + jsonKind(typeErr.Value) + "; want an array of events"
	case errors.As(err, &syntaxErr):
		return "body", fmt.Sprintf("is not valid JSON (at byte %d)", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return name, "is not a field of a batch; the body holds only events"
	case errors.Is(err, io.EOF):
		return "body", "is empty"
	}
	return "body", err.Error()
}

// jsonKind names a JSON value kind as encoding/json reports it.
func jsonKind(v string) string {
	switch v {
	case "array":
		return "an array"
	case "object":
		return "an object"
	case "number":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	}
	return v
}
