package poll_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/poll"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	poll.Until(t, 5*time.Second, "third check", func() bool { return calls.Add(1) >= 3 })
	if n := calls.Load(); n != 3 {
		t.Fatalf("condition checked %d times, want 3", n)
	}
}
