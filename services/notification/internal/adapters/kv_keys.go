// Package adapters connects the notification service to JetStream key-value
// buckets, the profile service, the providers (SMTP, SMS gateway, webhook)
// and the journey stream.
package adapters

import (
	"encoding/base64"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/services/notification/internal/app"
)

// token encodes free text (notification ids with ':', e-mail addresses) as
// one KV key token; base64url uses only characters keys allow.
func token(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// kvErr maps JetStream KV errors to the app's.
func kvErr(err error) error {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return app.ErrNotFound
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return app.ErrConflict
	case errors.Is(err, jetstream.ErrKeyExists):
		return app.ErrExists
	}
	return err
}
