package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/migrations"
)

func mustUser(t *testing.T, st *store.Store, email string, role store.Role) store.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), email, "x", role)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustClass(t *testing.T, st *store.Store, instructor store.User, name string, learners ...store.User) store.Class {
	t.Helper()
	ctx := context.Background()
	cl, err := st.CreateClass(ctx, instructor.ID, name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range learners {
		if err := st.JoinClass(ctx, cl.ID, l.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return cl
}

func mustAssign(t *testing.T, st *store.Store, cl store.Class, exercise string) {
	t.Helper()
	if err := st.AddAssignment(context.Background(), &store.Assignment{ClassID: cl.ID, Kind: store.AssignExercise, Ref: exercise,
		CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func mustSubmit(t *testing.T, st *store.Store, u store.User, exercise string, score int) store.Submission {
	t.Helper()
	sub := store.Submission{ID: store.NewSubmissionID(), UserID: u.ID, Lab: "limiter", Exercise: exercise, Design: "{}",
		Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: time.Now()}
	if err := st.CreateSubmission(context.Background(), &sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	return sub
}

func ptr[T any](v T) *T { return &v }

// A class's staff reach a submission only when its learner is in the class
// and the class assigns its exercise; each class keeps its own review of
// it, and the learner reads every class's.
func TestReviewsBelongToAClass(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			mustUser(t, st, "admin@example.org", "")
			t1 := mustUser(t, st, "t1@example.org", store.RoleInstructor)
			t2 := mustUser(t, st, "t2@example.org", store.RoleInstructor)
			ada := mustUser(t, st, "ada@example.org", store.RoleLearner)
			bob := mustUser(t, st, "bob@example.org", store.RoleLearner)
			spring := mustClass(t, st, t1, "Spring", ada)
			evening := mustClass(t, st, t2, "Evening", ada, bob)
			mustAssign(t, st, spring, "quota")
			sub := mustSubmit(t, st, ada, "quota", 100)
			bobs := mustSubmit(t, st, bob, "quota", 50)

			reach := func(cl store.Class, id string) bool {
				t.Helper()
				got, err := st.ClassSubmission(ctx, cl.ID, id)
				if err != nil && !apperr.Is(err, apperr.NotFound) {
					t.Fatal(err)
				}
				if err == nil && got.ID != id {
					t.Fatalf("asked for %s, got %s", id, got.ID)
				}
				return err == nil
			}
			if !reach(spring, sub.ID) {
				t.Error("Spring assigns the exercise and ada is in it, yet it cannot reach her submission")
			}
			if reach(evening, sub.ID) {
				t.Error("Evening reaches a submission to an exercise it does not assign")
			}
			if reach(spring, bobs.ID) {
				t.Error("Spring reaches the submission of a learner not in it")
			}
			if reach(spring, "nope") {
				t.Error("a missing submission was found")
			}
			mustAssign(t, st, evening, "quota")
			if !reach(evening, sub.ID) || !reach(evening, bobs.ID) {
				t.Error("Evening assigns the exercise now, yet cannot reach its learners' submissions")
			}

			// Two classes, two overrides of one submission.
			save := func(cl store.Class, by store.User, score int, feedback string) {
				t.Helper()
				n := &store.Notice{UserID: ada.ID, Kind: store.NoticeFeedback, Message: cl.Name + " reviewed", Link: "/submissions/" + sub.ID,
					CreatedAt: time.Now()}
				if err := st.SaveReview(ctx, store.SubmissionReview{ClassID: cl.ID, SubmissionID: sub.ID, OverrideScore: ptr(score),
					Reason: "because", Feedback: feedback, ReviewerID: &by.ID, UpdatedAt: time.Now()}, n); err != nil {
					t.Fatal(err)
				}
			}
			save(spring, t1, 90, "from spring")
			save(evening, t2, 10, "from evening")
			for _, c := range []struct {
				cl   store.Class
				want int
			}{{spring, 90}, {evening, 10}} {
				rs, err := st.Reviews(ctx, c.cl.ID, []string{sub.ID, bobs.ID})
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) != 1 || rs[sub.ID].OverrideScore == nil || *rs[sub.ID].OverrideScore != c.want || rs[sub.ID].ClassID != c.cl.ID {
					t.Errorf("%s's reviews: %+v, want ada's override %d only", c.cl.Name, rs, c.want)
				}
			}
			// Saving again changes that class's review only.
			save(spring, t1, 80, "from spring, again")
			if rs, _ := st.Reviews(ctx, evening.ID, []string{sub.ID}); *rs[sub.ID].OverrideScore != 10 || rs[sub.ID].Feedback != "from evening" {
				t.Errorf("Spring's second review changed Evening's: %+v", rs[sub.ID])
			}
			all, err := st.ReviewsOf(ctx, sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 2 || all[0].ClassName != "Evening" || *all[0].OverrideScore != 10 ||
				all[1].ClassName != "Spring" || *all[1].OverrideScore != 80 {
				t.Errorf("the learner's reviews: %+v", all)
			}
			// One unread notice per class: Spring's second replaced its
			// first, Evening's stays.
			ns, err := st.Notices(ctx, ada.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for _, n := range ns {
				msgs = append(msgs, n.Message)
			}
			if len(ns) != 2 || !strings.Contains(strings.Join(msgs, "|"), "Evening reviewed") {
				t.Errorf("notices %q, want one from each class", msgs)
			}

			// A deleted class takes its reviews with it; the other's stay.
			if err := st.DeleteClass(ctx, evening.ID); err != nil {
				t.Fatal(err)
			}
			if all, _ := st.ReviewsOf(ctx, sub.ID); len(all) != 1 || all[0].ClassID != spring.ID {
				t.Errorf("after Evening was deleted: %+v", all)
			}
		})
	}
}

// Reviews made before they belonged to a class are carried to the
// classes of their reviewer that assign the exercise to the learner; an
// admin's (or a deleted reviewer's) go to every such class; an
// instructor's made through a class that did not assign the exercise go.
func TestMigrationCarriesReviewsToClasses(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, store.Options{PostgresURL: b.DatabaseURL, SQLitePath: filepath.Join(b.DataDir, "old.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if _, err := migrations.UpTo(ctx, st.SQL(), st.Dialect(), 6); err != nil {
				t.Fatal(err)
			}
			admin := mustUser(t, st, "admin@example.org", "")
			t1 := mustUser(t, st, "t1@example.org", store.RoleInstructor)
			t2 := mustUser(t, st, "t2@example.org", store.RoleInstructor)
			gone := mustUser(t, st, "gone@example.org", store.RoleInstructor)
			ada := mustUser(t, st, "ada@example.org", store.RoleLearner)
			spring := mustClass(t, st, t1, "Spring", ada)   // t1: quota and saga
			autumn := mustClass(t, st, t1, "Autumn", ada)   // t1: quota
			evening := mustClass(t, st, t2, "Evening", ada) // t2: quota
			mustClass(t, st, t2, "Idle", ada)               // t2: nothing
			mustAssign(t, st, spring, "quota")
			mustAssign(t, st, spring, "saga")
			mustAssign(t, st, autumn, "quota")
			mustAssign(t, st, evening, "quota")

			byT1 := mustSubmit(t, st, ada, "quota", 100)    // reviewed by t1
			byRival := mustSubmit(t, st, ada, "saga", 100)  // reviewed by t2, who never assigned it
			byAdmin := mustSubmit(t, st, ada, "quota", 100) // reviewed by the admin
			byGone := mustSubmit(t, st, ada, "quota", 100)  // reviewed by an account since deleted
			old := func(sub store.Submission, reviewer *int64, score int) {
				t.Helper()
				q := "INSERT INTO submission_reviews (submission_id, override_score, reason, feedback, reviewer_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
				if st.Dialect() == migrations.Postgres {
					for i := 1; strings.Contains(q, "?"); i++ {
						q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
					}
				}
				if _, err := st.SQL().ExecContext(ctx, q, sub.ID, score, "why", "feedback", reviewer, time.Now().UTC()); err != nil {
					t.Fatal(err)
				}
			}
			old(byT1, &t1.ID, 10)
			old(byRival, &t2.ID, 0)
			old(byAdmin, &admin.ID, 30)
			old(byGone, &gone.ID, 40)
			del := "DELETE FROM users WHERE id = ?"
			if st.Dialect() == migrations.Postgres {
				del = "DELETE FROM users WHERE id = $1"
			}
			if _, err := st.SQL().ExecContext(ctx, del, gone.ID); err != nil {
				t.Fatal(err)
			}

			if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := st.CheckSchema(); err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, sub := range []store.Submission{byT1, byRival, byAdmin, byGone} {
				rs, err := st.ReviewsOf(ctx, sub.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					got[sub.ID] = append(got[sub.ID], fmt.Sprintf("%s:%d", r.ClassName, *r.OverrideScore))
				}
			}
			want := map[string]string{
				byT1.ID:    "Autumn:10 Spring:10",            // t1's classes that assign it, not Evening
				byRival.ID: "",                               // dropped
				byAdmin.ID: "Autumn:30 Evening:30 Spring:30", // every class that assigns it
				byGone.ID:  "Autumn:40 Evening:40 Spring:40",
			}
			for id, w := range want {
				if g := strings.Join(got[id], " "); g != w {
					t.Errorf("reviews of %s: %q, want %q", id, g, w)
				}
			}
		})
	}
}
