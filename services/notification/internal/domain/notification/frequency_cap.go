package notification

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FrequencyCap bounds marketing messages per customer, across channels and
// rules: at most Count in any Window. A zero cap is no cap.
type FrequencyCap struct {
	Count  int
	Window time.Duration
}

// ParseFrequencyCap reads "COUNT/WINDOW" such as "3/168h"; "" or "off"
// means none.
func ParseFrequencyCap(s string) (FrequencyCap, error) {
	if s == "" || s == "off" {
		return FrequencyCap{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	count, err1 := strconv.Atoi(n)
	window, err2 := time.ParseDuration(w)
	if !ok || err1 != nil || err2 != nil || count < 1 || window <= 0 {
		return FrequencyCap{}, fmt.Errorf("frequency cap %q is not COUNT/WINDOW such as 3/168h", s)
	}
	return FrequencyCap{Count: count, Window: window}, nil
}

// Off reports whether there is no cap.
func (f FrequencyCap) Off() bool { return f.Count == 0 }

// CapEntry is one marketing message counted against a customer's cap.
type CapEntry struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
}

// Reserve counts message key at now against entries: it returns the entries
// to store (those older than the window dropped) and whether the message may
// go. A key already counted is allowed again without counting twice, so a
// retried message is not capped by itself.
func (f FrequencyCap) Reserve(entries []CapEntry, key string, now time.Time) ([]CapEntry, bool) {
	kept := entries[:0:0]
	for _, e := range entries {
		if e.Key == key {
			return entries, true
		}
		if now.Sub(e.At) < f.Window {
			kept = append(kept, e)
		}
	}
	if len(kept) >= f.Count {
		return kept, false
	}
	return append(kept, CapEntry{Key: key, At: now}), true
}

// Release forgets message key, for a message that in the end was not sent.
func Release(entries []CapEntry, key string) []CapEntry {
	out := entries[:0:0]
	for _, e := range entries {
		if e.Key != key {
			out = append(out, e)
		}
	}
	return out
}
