package web

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/interviews"
)

// interviewRouteCases are the rows of the mock interviews: the problems
// are public, a session is its learner's (ada's here).
func interviewRouteCases(t *testing.T, a *testApp, w *authzWorld) []routeCase {
	t.Helper()
	sess, err := a.store.StartInterview(context.Background(), store.InterviewSession{UserID: w.ids["ada"], ProblemSlug: "chat",
		LimitSeconds: 2700, StartedAt: time.Now()}, interviews.StageIDs(), interviews.MaxSessions)
	if err != nil {
		t.Fatal(err)
	}
	base := "/interviews/chat/sessions/" + strconv.FormatInt(sess.ID, 10)
	missing := "/interviews/chat/sessions/999999"
	// The teacher's class assigns chat, so its staff review ada's session
	// there; the rival's class does not, so the rival reaches it nowhere.
	if err := a.store.AddAssignment(context.Background(), &store.Assignment{ClassID: w.class.ID, Kind: store.AssignInterview,
		Ref: "chat", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	review := w.classBase() + "/interviews/" + strconv.FormatInt(sess.ID, 10)
	return []routeCase{
		{method: "GET", pattern: "/classes/:id/interviews/:sid", policy: class, path: review, unknown: w.classBase() + "/interviews/999999"},
		{method: "POST", pattern: "/classes/:id/interviews/:sid/review", policy: class, path: review + "/review",
			form: url.Values{"feedback": {"good"}}, unknown: w.classBase() + "/interviews/999999/review"},
		{method: "GET", pattern: "/interviews", policy: public, path: "/interviews"},
		{method: "GET", pattern: "/interviews/:slug", policy: public, path: "/interviews/chat", unknown: "/interviews/no-such-problem"},
		{method: "POST", pattern: "/interviews/:slug/sessions", policy: user, path: "/interviews/chat/sessions",
			unknown: "/interviews/no-such-problem/sessions"},
		{method: "GET", pattern: "/interviews/:slug/sessions/:id", policy: owner, path: base, unknown: missing},
		{method: "POST", pattern: "/interviews/:slug/sessions/:id/delete", policy: owner, path: base + "/delete", destructive: true,
			unknown: missing + "/delete"},
		{method: "POST", pattern: "/interviews/:slug/sessions/:id/timer", policy: owner, path: base + "/timer", unknown: missing + "/timer"},
		{method: "POST", pattern: "/interviews/:slug/sessions/:id/stages/:stage", policy: owner, path: base + "/stages/requirements",
			form: url.Values{"answer": {"a"}}, unknown: missing + "/stages/requirements"},
		{method: "POST", pattern: "/interviews/:slug/sessions/:id/stages/:stage/ticks", policy: owner, path: base + "/stages/requirements/ticks",
			unknown: missing + "/stages/requirements/ticks"},
		{method: "POST", pattern: "/interviews/:slug/sessions/:id/stages/:stage/diagram", policy: owner, path: base + "/stages/high-level/diagram",
			unknown: missing + "/stages/high-level/diagram"},
	}
}
