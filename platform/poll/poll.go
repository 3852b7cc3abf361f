// Package poll waits in tests for asynchronous work to show: it checks a
// condition every few milliseconds until it holds or a deadline passes,
// then fails the test naming what did not happen. Tests never sleep to
// "wait for" something; they poll for it.
package poll

import (
	"testing"
	"time"
)

// Interval is how often a condition is checked.
const Interval = 10 * time.Millisecond

// Until checks cond every Interval until it holds, or fails the test with
// what after timeout.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if cond() {
		return
	}
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case <-deadline.C:
			if cond() {
				return
			}
			t.Fatalf("%s: not within %v", what, timeout)
		case <-tick.C:
			if cond() {
				return
			}
		}
	}
}
