package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// A quiz sent with no answer at all is refused with a sentence and the
// form again (422), and is not stored as an attempt; one answered question
// is enough to be graded and kept. The correct option is named in words.
func TestBlankQuizIsNotAnAttempt(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			b := MustRegister(t, a, "blank@example.org")
			quiz := a.app.catalog().Quizzes["cap"]
			for _, form := range []url.Values{
				{},
				{"q." + quiz.Questions[0].ID: {"  "}},
				{"q.not-a-question": {"1"}},
			} {
				resp := b.post("/lessons/cap/quiz", form)
				wantStatus(t, resp, http.StatusUnprocessableEntity)
				d := doc(t, resp)
				if got := testid(d, "quiz-error"); !strings.Contains(got, "not answered any question") || !strings.Contains(got, "nothing was recorded") {
					t.Errorf("blank quiz %v: message %q", form, got)
				}
				if d.Find(`[data-testid="quiz-form"] input`).Length() == 0 {
					t.Error("the refused quiz does not show its questions again")
				}
			}
			attempts := func() int {
				u, err := a.store.UserByEmail(context.Background(), "blank@example.org")
				if err != nil {
					t.Fatal(err)
				}
				list, err := a.store.QuizAttempts(context.Background(), u.ID, "cap")
				if err != nil {
					t.Fatal(err)
				}
				return len(list)
			}
			if n := attempts(); n != 0 {
				t.Fatalf("blank submits stored %d attempts", n)
			}

			one := url.Values{}
			q := quiz.Questions[len(quiz.Questions)-1]
			right := correctAnswers(quiz)
			one["q."+q.ID] = right["q."+q.ID]
			resp := b.post("/lessons/cap/quiz", one)
			wantStatus(t, resp, http.StatusOK)
			d := doc(t, resp)
			if got := testid(d, "quiz-score"); !strings.HasPrefix(got, "1 / ") {
				t.Errorf("one right answer scored %q", got)
			}
			if n := attempts(); n != 1 {
				t.Errorf("a partly answered quiz stored %d attempts, want 1", n)
			}
			if d.Find(`[data-testid="correct-tag"]`).Length() == 0 || !strings.Contains(d.Find(`[data-testid="correct-tag"]`).First().Text(), "correct answer") {
				t.Error("the correct options are not named in words")
			}
		})
	}
}
