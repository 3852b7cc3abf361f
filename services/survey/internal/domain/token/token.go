// Package token signs and verifies survey response links. A token carries
// the tenant, the invitation, an expiry and optionally a score, and an
// HMAC-SHA256 over them; verification is constant-time.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinKeyLen is the shortest key the service starts with: 32 bytes, the
// size of the HMAC-SHA256 output.
const MinKeyLen = 32

// NoScore marks a link that does not carry a score.
const NoScore = -1

// Errors Verify returns; a page tells them apart for the customer.
var (
	// ErrMalformed: not a token at all, or its signature does not match
	// (tampered, or signed with another key).
	ErrMalformed = errors.New("token: malformed or tampered")
	// ErrExpired: a genuine token past its expiry.
	ErrExpired = errors.New("token: expired")
)

// Claims is what a link carries.
type Claims struct {
	Tenant       string
	InvitationID string
	Expires      time.Time
	// Score is the one-tap score, or NoScore.
	Score int
}

// Signer signs and verifies tokens with one key.
type Signer struct{ key []byte }

// NewSigner returns a signer; the key must be at least MinKeyLen bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("token: key is %d bytes, at least %d are needed", len(key), MinKeyLen)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// ParseKey decodes a key given as hex or base64 (standard or URL, padded
// or not), as SURVEY_LINK_KEY holds it.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hexDecode(s); err == nil {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("token: key is neither hex nor base64")
}

func hexDecode(s string) ([]byte, error) {
	if len(s)%2 != 0 || s == "" {
		return nil, errors.New("odd")
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		out[i] = byte(v)
	}
	return out, nil
}

// The payload is "1|tenant|invitation|expiry unix|score"; tenants and
// invitation ids never hold "|".
const version = "1"

// Sign returns the URL-safe token for c.
func (s *Signer) Sign(c Claims) string {
	payload := strings.Join([]string{version, c.Tenant, c.InvitationID, strconv.FormatInt(c.Expires.Unix(), 10), strconv.Itoa(c.Score)}, "|")
	p := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
}

func (s *Signer) mac(p string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(p))
	return m.Sum(nil)
}

// Verify checks tok's signature in constant time, then its expiry against
// now. An expired token's claims are returned with ErrExpired, so the page
// can speak the invitation's language.
func (s *Signer) Verify(tok string, now time.Time) (Claims, error) {
	p, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 512 {
		return Claims{}, ErrMalformed
	}
	// Strict: a token differing only in a last character's unused bits is
	// another token, not the same one.
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return Claims{}, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(p)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	f := strings.Split(string(raw), "|")
	if len(f) != 5 || f[0] != version || f[1] == "" || f[2] == "" {
		return Claims{}, ErrMalformed
	}
	exp, err1 := strconv.ParseInt(f[3], 10, 64)
	score, err2 := strconv.Atoi(f[4])
	if err1 != nil || err2 != nil || score < NoScore || score > 10 {
		return Claims{}, ErrMalformed
	}
	c := Claims{Tenant: f[1], InvitationID: f[2], Expires: time.Unix(exp, 0), Score: score}
	if !now.Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}
