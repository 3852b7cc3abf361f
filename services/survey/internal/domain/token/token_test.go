package token

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var key = bytes.Repeat([]byte{7}, 32)

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := NewSigner(key)
	now := time.Unix(1_700_000_000, 0)
	for _, score := range []int{NoScore, 0, 5, 10} {
		c := Claims{Tenant: "demo", InvitationID: "inv123", Expires: now.Add(time.Hour), Score: score}
		got, err := s.Verify(s.Sign(c), now)
		if err != nil || got.Tenant != "demo" || got.InvitationID != "inv123" || got.Score != score || !got.Expires.Equal(c.Expires) {
			t.Fatalf("Verify(Sign(%+v)) = %+v, %v", c, got, err)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	s, _ := NewSigner(key)
	other, _ := NewSigner(bytes.Repeat([]byte{8}, 32))
	now := time.Unix(1_700_000_000, 0)
	good := s.Sign(Claims{Tenant: "demo", InvitationID: "inv1", Expires: now.Add(time.Hour), Score: 9})
	p, sig, _ := strings.Cut(good, ".")
	// The same invitation in another tenant, signature copied over: what
	// a customer of one shop would try to answer for another.
	forged := s.Sign(Claims{Tenant: "other", InvitationID: "inv1", Expires: now.Add(time.Hour), Score: 9})
	fp, _, _ := strings.Cut(forged, ".")
	flip := []byte(sig)
	flip[0] ^= 1
	// The signature's last character carries two unused bits: one that
	// differs only in them decodes to the same bytes unless decoding is
	// strict.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	spare := []byte(sig)
	spare[len(spare)-1] = alphabet[strings.IndexByte(alphabet, spare[len(spare)-1])^1]
	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"no signature", p, ErrMalformed},
		{"signature of another key", other.Sign(Claims{Tenant: "demo", InvitationID: "inv1", Expires: now.Add(time.Hour), Score: 9}), ErrMalformed},
		{"flipped signature bit", p + "." + string(flip), ErrMalformed},
		{"signature's unused bits changed", p + "." + string(spare), ErrMalformed},
		{"wrong tenant with old signature", fp + "." + sig, ErrMalformed},
		{"score changed", s.Sign(Claims{Tenant: "demo", InvitationID: "inv1", Expires: now.Add(time.Hour), Score: 10})[:len(p)] + "." + sig, ErrMalformed},
		{"expired", s.Sign(Claims{Tenant: "demo", InvitationID: "inv1", Expires: now, Score: 9}), ErrExpired},
		{"huge", strings.Repeat("a", 600) + "." + sig, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.Verify(tc.tok, now); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	if _, err := NewSigner(key[:31]); err == nil {
		t.Fatal("a 31-byte key must be refused")
	}
	hexKey := strings.Repeat("ab", 32)
	b64 := "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="
	for _, s := range []string{hexKey, b64} {
		k, err := ParseKey(s)
		if err != nil || len(k) != 32 || k[0] != 0xab {
			t.Fatalf("ParseKey(%q) = %x, %v", s, k, err)
		}
	}
	if _, err := ParseKey("not a key!"); err == nil {
		t.Fatal("garbage must be refused")
	}
}
