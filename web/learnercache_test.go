package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestLearnerChangesReachEveryReplica runs two replicas on one database
// and one Redis: a lesson marked completed through the first shows as
// completed on the second, which had the learner's record cached, and a
// quiz attempt made there shows on the first.
func TestLearnerChangesReachEveryReplica(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			if b.RedisURL == "" {
				b.RedisURL = "redis://" + miniredis.RunT(t).Addr() + "/0"
			}
			one, two := MustStart(t, b, nil), MustStart(t, b, nil)
			waitSubscribed(t, one)
			waitSubscribed(t, two)
			alice := MustRegister(t, one, "alice@example.org")
			aliceTwo := onReplica(t, alice, two)
			u, err := one.store.UserByEmail(context.Background(), "alice@example.org")
			if err != nil {
				t.Fatal(err)
			}

			// The second replica reads the record once and keeps it.
			wantLessonCompleted(t, aliceTwo, false)
			if !two.store.LearnerCached(u.ID) {
				t.Fatal("the second replica did not keep the learner's record it read")
			}
			wantLessonCompleted(t, aliceTwo, false)

			// Completed through the first replica: the first forgets at
			// once, the second when the message arrives.
			wantStatus(t, alice.post("/lessons/cap/complete", url.Values{"done": {"true"}}), http.StatusSeeOther)
			if one.store.LearnerCached(u.ID) {
				t.Fatal("the replica that wrote still serves the old record")
			}
			waitFor(t, "the second replica to drop the learner's record", func() bool { return !two.store.LearnerCached(u.ID) })
			wantLessonCompleted(t, aliceTwo, true)
			wantLessonCompleted(t, alice, true)
		})
	}
}

// TestLearnerCacheServesReadsWithoutQueries: a learner's second visit to
// a lesson page reads nothing from the database for their progress.
func TestLearnerCacheServesReadsWithoutQueries(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	waitSubscribed(t, a)
	bob := MustRegister(t, a, "bob@example.org")
	wantLessonCompleted(t, bob, false) // opens it: one write, the record read again after
	wantLessonCompleted(t, bob, false)
	if code, n := queriesFor(t, a, bob, "/lessons/cap"); code != http.StatusOK || n != 0 {
		t.Fatalf("a reload of a lesson page answered %d after %d queries; want 200 after none (session, nav and record cached)", code, n)
	}
	// Each page that reads the whole record: once to fill, then one
	// query, for the learner's graded submissions (graders write those,
	// often in processes of their own).
	for _, path := range []string{"/lessons", "/progress", "/review"} {
		queriesFor(t, a, bob, path)
		if code, n := queriesFor(t, a, bob, path); code != http.StatusOK || n != 1 {
			t.Errorf("%s again answered %d after %d queries; want 200 after 1", path, code, n)
		}
	}
}

func wantLessonCompleted(t *testing.T, b *browser, done bool) {
	t.Helper()
	resp := b.get("/lessons/cap")
	wantStatus(t, resp, http.StatusOK)
	body := readBody(t, resp)
	if got := strings.Contains(body, `data-testid="lesson-complete-state"`); got != done {
		t.Fatalf("lesson page shows completed=%v; want %v", got, done)
	}
}
