package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestInterviewMissesBecomeCards: a closed stage's missed checkpoints
// become one flashcard in the review queue (counted in the navigation
// too), and the progress page lists the session with its stage scores.
func TestInterviewMissesBecomeCards(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			ada := MustRegister(t, a, "ada@example.com")
			base := startSession(t, ada)
			ctx := context.Background()
			uid := mustUserID(t, a, "ada@example.com")
			wantStatus(t, ada.post(base+"/stages/requirements", url.Values{"action": {"close"}, "answer": {"groups, order"}}), http.StatusSeeOther)
			wantStatus(t, ada.post(base+"/stages/requirements/ticks", url.Values{"checkpoint": {"0", "2"}}), http.StatusSeeOther)
			// An open stage makes no card, nor does a stage with every checkpoint ticked.
			wantStatus(t, ada.post(base+"/stages/estimation", url.Values{"action": {"save"}, "answer": {"20k/s"}}), http.StatusSeeOther)
			wantStatus(t, ada.post(base+"/stages/api", url.Values{"action": {"close"}, "answer": {"ws"}}), http.StatusSeeOther)
			wantStatus(t, ada.post(base+"/stages/api/ticks", url.Values{"checkpoint": {"0", "1", "2", "3"}}), http.StatusSeeOther)

			q, err := a.app.progress.ReviewQueue(ctx, uid)
			if err != nil {
				t.Fatal(err)
			}
			if q.Total() != 1 || q.Next().ID != "interview/chat/requirements" {
				t.Fatalf("queue: %d cards, next %+v", q.Total(), q.Next())
			}
			rec, err := a.app.progress.NavRecord(ctx, uid, false, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.app.progress.DueCount(rec); got != q.Total() {
				t.Errorf("the navigation counts %d cards due, the queue %d", got, q.Total())
			}

			d := doc(t, ada.get("/review"))
			back := d.Find(`[data-testid="card-back"] li`)
			if back.Length() != 2 || !strings.Contains(back.First().Text(), "in order within a conversation") {
				t.Errorf("card back lists %d checkpoints: %q", back.Length(), back.Text())
			}
			if d.Find(`a[href="/interviews/chat"]`).Length() == 0 {
				t.Error("the card does not link its mock interview")
			}
			wantStatus(t, ada.post("/review", url.Values{"card": {"interview/chat/requirements"}, "grade": {"3"}}), http.StatusSeeOther)
			if q, _ := a.app.progress.ReviewQueue(ctx, uid); q.Total() != 0 {
				t.Errorf("after reviewing it, %d cards wait", q.Total())
			}

			got := testid(doc(t, ada.get("/progress")), "progress-interviews")
			for _, want := range []string{"Design a chat service", "Requirements and scope: 2/4", "API: 4/4", "75%"} {
				if !strings.Contains(got, want) {
					t.Errorf("progress's mock interviews lack %q: %q", want, got)
				}
			}
		})
	}
}
