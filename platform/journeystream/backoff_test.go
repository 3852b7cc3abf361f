package journeystream_test

import (
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/journeystream"
)

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	t.Parallel()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, w := range want {
		if got := journeystream.Backoff(time.Second, uint64(i+1)); got != w {
			t.Errorf("Backoff(1s, %d) = %v, want %v", i+1, got, w)
		}
	}
	if got := journeystream.Backoff(time.Second, 40); got != journeystream.MaxRetryDelay {
		t.Errorf("Backoff(1s, 40) = %v, want the cap %v", got, journeystream.MaxRetryDelay)
	}
}
