package journeystream

import (
	"context"
	"hash/maphash"
	"sync"
)

// Lanes handle items on a fixed number of workers, each item on the lane
// its key picks: items with the same key are handled one at a time in the
// order they were put, items with different keys in parallel.
type Lanes[T any] struct {
	seed   maphash.Seed
	queues []chan T
	wg     sync.WaitGroup
}

// NewLanes starts workers lanes, each queueing up to depth items.
func NewLanes[T any](workers, depth int, handle func(T)) *Lanes[T] {
	l := &Lanes[T]{seed: maphash.MakeSeed(), queues: make([]chan T, max(workers, 1))}
	for i := range l.queues {
		q := make(chan T, max(depth, 1))
		l.queues[i] = q
		l.wg.Go(func() {
			for item := range q {
				handle(item)
			}
		})
	}
	return l
}

// Put queues item on key's lane, waiting while the lane is full; false if
// ctx ended first (the item was not queued).
func (l *Lanes[T]) Put(ctx context.Context, key string, item T) bool {
	q := l.queues[maphash.String(l.seed, key)%uint64(len(l.queues))]
	select {
	case q <- item:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close lets the lanes finish what they hold and waits for them.
func (l *Lanes[T]) Close() {
	for _, q := range l.queues {
		close(q)
	}
	l.wg.Wait()
}
