package labs

import (
	"context"
	"errors"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestManualClockTimersFireInOrderAsItMoves(t *testing.T) {
	c := NewManualClock(epoch)
	a, b := c.NewTimer(300*time.Millisecond), c.NewTimer(100*time.Millisecond)
	if c.Waiters() != 2 {
		t.Fatalf("waiters = %d, want 2", c.Waiters())
	}
	c.Advance(99 * time.Millisecond)
	select {
	case <-b.C():
		t.Fatal("fired a millisecond early")
	default:
	}
	c.Advance(time.Millisecond)
	if at := <-b.C(); !at.Equal(epoch.Add(100 * time.Millisecond)) {
		t.Fatalf("fired at %v", at)
	}
	if a.Stop() != true || a.Stop() != false {
		t.Fatal("Stop should report true once, then false")
	}
	c.Advance(time.Hour)
	select {
	case <-a.C():
		t.Fatal("a stopped timer fired")
	default:
	}
	if got := c.Now(); !got.Equal(epoch.Add(time.Hour + 100*time.Millisecond)) {
		t.Fatalf("now = %v", got)
	}
}

func TestManualClockTickerAndSleep(t *testing.T) {
	c := NewManualClock(epoch)
	tk := c.NewTicker(time.Second)
	c.Advance(time.Second)
	<-tk.C()
	c.Advance(5 * time.Second) // several periods: one tick, like a real ticker with a slow reader
	<-tk.C()
	select {
	case <-tk.C():
		t.Fatal("a second tick from one Advance")
	default:
	}
	tk.Stop()

	done := make(chan error, 1)
	go func() { done <- Sleep(context.Background(), c, 2*time.Second) }()
	if err := c.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWithTimeoutOnAManualClock(t *testing.T) {
	c := NewManualClock(epoch)
	ctx, cancel := WithTimeout(context.Background(), c, 500*time.Millisecond)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		t.Fatalf("a manual clock's deadline leaked out as a wall-clock deadline: %v", dl)
	}
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	if dl, ok := ClockDeadline(child); !ok || !dl.Equal(epoch.Add(500*time.Millisecond)) {
		t.Fatalf("clock deadline %v %v", dl, ok)
	}
	c.Advance(499 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatal("ended early")
	}
	c.Advance(time.Millisecond)
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", ctx.Err())
	}
	ctx2, cancel2 := WithTimeout(context.Background(), c, time.Second)
	cancel2()
	<-ctx2.Done()
	if !errors.Is(ctx2.Err(), context.Canceled) {
		t.Fatalf("err = %v, want canceled", ctx2.Err())
	}
	if c.Waiters() != 0 {
		// the cancelled context's timer is stopped by its goroutine
		if err := waitFor(func() bool { return c.Waiters() == 0 }); err != nil {
			t.Fatal("a cancelled timeout left its timer pending")
		}
	}
}

func waitFor(ok func() bool) error {
	for i := 0; i < 1000; i++ {
		if ok() {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("condition never held")
}
