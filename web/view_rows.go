package web

import (
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// What pages show of the store's records: the views take these rows, not
// the records.

func classRef(cl store.Class) views.ClassRef {
	return views.ClassRef{ID: cl.ID, Name: cl.Name, JoinCode: cl.JoinCode, LaddersUnlocked: cl.LaddersUnlocked}
}

func classRefs(cls []store.Class) []views.ClassRef {
	out := make([]views.ClassRef, len(cls))
	for i, cl := range cls {
		out[i] = classRef(cl)
	}
	return out
}

func tokenRows(toks []store.APIToken, now time.Time) []views.TokenRow {
	out := make([]views.TokenRow, len(toks))
	for i, t := range toks {
		out[i] = views.TokenRow{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scope: string(t.Scope), CreatedAt: t.CreatedAt,
			ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, Expired: t.Expired(now)}
	}
	return out
}

func noticeRows(ns []store.Notice) []views.NoticeRow {
	out := make([]views.NoticeRow, len(ns))
	for i, n := range ns {
		out[i] = views.NoticeRow{Message: n.Message, Link: n.Link, CreatedAt: n.CreatedAt, ReadAt: n.ReadAt}
	}
	return out
}

func waitingRows(ws []store.Waiting) []views.WaitingRow {
	out := make([]views.WaitingRow, len(ws))
	for i, w := range ws {
		out[i] = views.WaitingRow{ID: w.ID, ClassID: w.ClassID, ClassName: w.ClassName, Learner: w.Learner, Exercise: w.Exercise,
			Number: w.Number, Score: w.Score, MaxScore: w.MaxScore, CreatedAt: w.CreatedAt}
	}
	return out
}

func userRows(us []store.User) []views.UserRow {
	out := make([]views.UserRow, len(us))
	for i, u := range us {
		out[i] = views.UserRow{ID: u.ID, Email: u.Email, Role: string(u.Role), CreatedAt: u.CreatedAt}
	}
	return out
}

func invitationRows(invs []store.Invitation) []views.InvitationRow {
	out := make([]views.InvitationRow, len(invs))
	for i, inv := range invs {
		out[i] = views.InvitationRow{ID: inv.ID, Email: inv.Email, Role: string(inv.Role), ExpiresAt: inv.ExpiresAt}
	}
	return out
}

func attempts(subs []store.Submission) []views.Attempt {
	out := make([]views.Attempt, len(subs))
	for i, s := range subs {
		out[i] = views.Attempt{ID: s.ID, Number: s.Number, Status: s.Status, Score: s.Score, MaxScore: s.MaxScore,
			CreatedAt: s.CreatedAt, Counted: s.Counts()}
	}
	return out
}

func classReviews(rs []store.ClassReview) []views.ClassReview {
	out := make([]views.ClassReview, len(rs))
	for i, r := range rs {
		out[i] = views.ClassReview{ClassID: r.ClassID, ClassName: r.ClassName, OverrideScore: r.OverrideScore,
			Reason: r.Reason, Feedback: r.Feedback}
	}
	return out
}

func classDues(ds []store.ClassDue) []views.ClassDue {
	out := make([]views.ClassDue, len(ds))
	for i, d := range ds {
		out[i] = views.ClassDue{ClassName: d.ClassName, DueAt: d.DueAt}
	}
	return out
}
