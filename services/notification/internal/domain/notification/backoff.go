package notification

import (
	"math/rand/v2"
	"time"
)

// Backoff is the delay before retry number n (from 1) after a transient
// provider error: base doubled per retry up to max, with "equal jitter" —
// half fixed, half random — so that many messages failing together do not
// come back together.
func Backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}
