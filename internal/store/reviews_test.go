package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/migrations"
)

func mustUserAs(t *testing.T, st *store.Store, email string, role store.Role) store.User {
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
			mustUserAs(t, st, "admin@example.org", "")
			t1 := mustUserAs(t, st, "t1@example.org", store.RoleInstructor)
			t2 := mustUserAs(t, st, "t2@example.org", store.RoleInstructor)
			ada := mustUserAs(t, st, "ada@example.org", store.RoleLearner)
			bob := mustUserAs(t, st, "bob@example.org", store.RoleLearner)
			spring := mustClass(t, st, t1, "Spring", ada)
			evening := mustClass(t, st, t2, "Evening", ada, bob)
			mustAssign(t, st, spring, "quota")
			sub := mustSubmit(t, st, ada, "quota", 100)
			bobs := mustSubmit(t, st, bob, "quota", 50)

			for _, c := range []struct {
				cl   store.Class
				id   string
				want bool
				why  string
			}{
				{spring, sub.ID, true, "Spring assigns the exercise and ada is in it"},
				{evening, sub.ID, false, "Evening does not assign the exercise"},
				{spring, bobs.ID, false, "bob is not in Spring"},
				{spring, "nope", false, "there is no such submission"},
			} {
				if got := reach(t, st, c.cl, c.id); got != c.want {
					t.Errorf("%s reaches %s: %v, want %v (%s)", c.cl.Name, c.id, got, c.want, c.why)
				}
			}
			mustAssign(t, st, evening, "quota")
			if !reach(t, st, evening, sub.ID) || !reach(t, st, evening, bobs.ID) {
				t.Error("Evening assigns the exercise now, yet cannot reach its learners' submissions")
			}

			// Two classes, two overrides of one submission; saving again
			// changes that class's review only.
			saveReview(t, st, spring, t1, sub, 90, "from spring")
			saveReview(t, st, evening, t2, sub, 10, "from evening")
			saveReview(t, st, spring, t1, sub, 80, "from spring, again")
			for _, c := range []struct {
				cl   store.Class
				want string
			}{{spring, "80 from spring, again"}, {evening, "10 from evening"}} {
				rs, err := st.Reviews(ctx, c.cl.ID, []string{sub.ID, bobs.ID})
				if got := fmt.Sprintf("%d %s", *rs[sub.ID].OverrideScore, rs[sub.ID].Feedback); err != nil || len(rs) != 1 || got != c.want {
					t.Errorf("%s's reviews: %+v (%v), want ada's %q only", c.cl.Name, rs, err, c.want)
				}
			}
			if got := reviewsText(t, st, sub.ID); got != "Evening:10 Spring:80" {
				t.Errorf("the learner's reviews: %q", got)
			}
			// One unread notice per class: Spring's second replaced its
			// first, Evening's stays.
			if got := noticesText(t, st, ada.ID); got != "Spring reviewed|Evening reviewed" {
				t.Errorf("notices %q, want the latest of each class", got)
			}

			// A deleted class takes its reviews with it; the other's stay.
			if err := st.DeleteClass(ctx, evening.ID); err != nil {
				t.Fatal(err)
			}
			if got := reviewsText(t, st, sub.ID); got != "Spring:80" {
				t.Errorf("after Evening was deleted: %q", got)
			}
		})
	}
}

// reach reports whether a class's staff reach a submission.
func reach(t *testing.T, st *store.Store, cl store.Class, id string) bool {
	t.Helper()
	got, err := st.ClassSubmission(context.Background(), cl.ID, id)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		t.Fatal(err)
	}
	if err == nil && got.ID != id {
		t.Fatalf("asked for %s, got %s", id, got.ID)
	}
	return err == nil
}

// saveReview saves a class's override and feedback, with a notice for the
// learner.
func saveReview(t *testing.T, st *store.Store, cl store.Class, by store.User, sub store.Submission, score int, feedback string) {
	t.Helper()
	n := &store.Notice{UserID: sub.UserID, Kind: store.NoticeFeedback, Message: cl.Name + " reviewed", Link: "/submissions/" + sub.ID,
		CreatedAt: time.Now()}
	if err := st.SaveReview(context.Background(), store.SubmissionReview{ClassID: cl.ID, SubmissionID: sub.ID, OverrideScore: ptr(score),
		Reason: "because", Feedback: feedback, ReviewerID: &by.ID, UpdatedAt: time.Now()}, n); err != nil {
		t.Fatal(err)
	}
}

// reviewsText is every class's review of a submission as the learner reads
// them: "class:override" by class name.
func reviewsText(t *testing.T, st *store.Store, id string) string {
	t.Helper()
	rs, err := st.ReviewsOf(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		score := "none"
		if r.OverrideScore != nil {
			score = strconv.Itoa(*r.OverrideScore)
		}
		out = append(out, r.ClassName+":"+score)
	}
	return strings.Join(out, " ")
}

// noticesText is a user's notices, newest first, joined by "|".
func noticesText(t *testing.T, st *store.Store, userID int64) string {
	t.Helper()
	ns, err := st.Notices(context.Background(), userID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, n := range ns {
		msgs = append(msgs, n.Message)
	}
	return strings.Join(msgs, "|")
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
			// The rows are written in the SQL of schema 6, not through
			// today's models, which know later columns.
			admin := oldUser(t, st, 1, "admin@example.org", store.RoleAdmin)
			t1 := oldUser(t, st, 2, "t1@example.org", store.RoleInstructor)
			t2 := oldUser(t, st, 3, "t2@example.org", store.RoleInstructor)
			gone := oldUser(t, st, 4, "gone@example.org", store.RoleInstructor)
			ada := oldUser(t, st, 5, "ada@example.org", store.RoleLearner)
			spring := oldClass(t, st, 1, t1, "Spring", ada)   // t1: quota and saga
			autumn := oldClass(t, st, 2, t1, "Autumn", ada)   // t1: quota
			evening := oldClass(t, st, 3, t2, "Evening", ada) // t2: quota
			oldClass(t, st, 4, t2, "Idle", ada)               // t2: nothing
			oldAssign(t, st, spring, "quota")
			oldAssign(t, st, spring, "saga")
			oldAssign(t, st, autumn, "quota")
			oldAssign(t, st, evening, "quota")

			byT1 := oldSubmit(t, st, ada, "quota", 1)    // reviewed by t1
			byRival := oldSubmit(t, st, ada, "saga", 1)  // reviewed by t2, who never assigned it
			byAdmin := oldSubmit(t, st, ada, "quota", 2) // reviewed by the admin
			byGone := oldSubmit(t, st, ada, "quota", 3)  // reviewed by an account since deleted
			oldReview(t, st, byT1, &t1.ID, 10)
			oldReview(t, st, byRival, &t2.ID, 0)
			oldReview(t, st, byAdmin, &admin.ID, 30)
			oldReview(t, st, byGone, &gone.ID, 40)
			execSQL(t, st, "DELETE FROM users WHERE id = ?", gone.ID)

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

// oldReview inserts a review as the schema before per-class reviews kept
// it: one per submission.
// oldUser, oldClass, oldAssign and oldSubmit write rows in the SQL of
// schema 6, for the migration test.
func oldUser(t *testing.T, st *store.Store, id int64, email string, role store.Role) store.User {
	t.Helper()
	now := time.Now().UTC()
	execSQL(t, st, "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES (?, ?, 'x', ?, ?, ?)",
		id, email, string(role), now, now)
	return store.User{ID: id, Email: email, Role: role}
}

func oldClass(t *testing.T, st *store.Store, id int64, instructor store.User, name string, learners ...store.User) store.Class {
	t.Helper()
	now := time.Now().UTC()
	execSQL(t, st, "INSERT INTO classes (id, instructor_id, name, join_code, created_at) VALUES (?, ?, ?, ?, ?)",
		id, instructor.ID, name, fmt.Sprintf("code%d", id), now)
	for _, l := range learners {
		execSQL(t, st, "INSERT INTO class_members (class_id, user_id, joined_at) VALUES (?, ?, ?)", id, l.ID, now)
	}
	return store.Class{ID: id, InstructorID: instructor.ID, Name: name}
}

func oldAssign(t *testing.T, st *store.Store, cl store.Class, exercise string) {
	t.Helper()
	execSQL(t, st, "INSERT INTO assignments (class_id, kind, ref, created_at) VALUES (?, ?, ?, ?)",
		cl.ID, string(store.AssignExercise), exercise, time.Now().UTC())
}

func oldSubmit(t *testing.T, st *store.Store, u store.User, exercise string, number int) store.Submission {
	t.Helper()
	id := store.NewSubmissionID()
	execSQL(t, st, "INSERT INTO submissions (id, user_id, lab, exercise, number, design, status, score, max_score, created_at) VALUES (?, ?, 'limiter', ?, ?, '{}', ?, 100, 100, ?)",
		id, u.ID, exercise, number, string(store.StatusGraded), time.Now().UTC())
	return store.Submission{ID: id, UserID: u.ID, Exercise: exercise}
}

func oldReview(t *testing.T, st *store.Store, sub store.Submission, reviewer *int64, score int) {
	t.Helper()
	execSQL(t, st, "INSERT INTO submission_reviews (submission_id, override_score, reason, feedback, reviewer_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
		sub.ID, score, "why", "feedback", reviewer, time.Now().UTC())
}

// execSQL runs a statement written with ? placeholders on either dialect.
func execSQL(t *testing.T, st *store.Store, q string, args ...any) {
	t.Helper()
	if st.Dialect() == migrations.Postgres {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	if _, err := st.SQL().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatal(err)
	}
}
