package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/lessons"
	"github.com/sdworkbook/workbook/web/views"
)

// maxAnswerChars bounds a written interview answer.
const maxAnswerChars = 20000

func (s *Server) catalog() *lessons.Catalog { return s.library.Catalog() }

func (s *Server) lessonOr404(c *gin.Context) (*lessons.Lesson, bool) {
	l, ok := s.catalog().Lesson(c.Param("slug"))
	if !ok {
		s.notFound(c)
	}
	return l, ok
}

func (s *Server) lessonsIndex(c *gin.Context) {
	ctx := c.Request.Context()
	cat := s.catalog()
	m := views.LessonIndex{Total: len(cat.Lessons)}
	status := map[string]views.LessonRow{}
	page := views.Page{Title: "Lessons", Section: "lessons"}
	if u := currentUser(c); u != nil {
		m.SignedIn = true
		d, err := s.progress.Dashboard(ctx, u.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		page.DueCards, page.DueKnown = d.ReviewsDue, true
		m.Completed = d.Completed
		for _, ls := range d.Lessons {
			status[ls.Lesson.Slug] = views.LessonRow{Opened: ls.Opened, Completed: ls.Completed, BestQuiz: ls.BestQuiz}
		}
	}
	for _, t := range lessons.Topics {
		g := views.LessonGroup{Topic: t.Title}
		for _, l := range cat.Lessons {
			if l.Topic == t.ID {
				r, ok := status[l.Slug]
				if !ok {
					r.BestQuiz = -1
				}
				r.Lesson = l
				g.Lessons = append(g.Lessons, r)
			}
		}
		if len(g.Lessons) > 0 {
			m.Groups = append(m.Groups, g)
		}
	}
	s.render(c, http.StatusOK, page, views.LessonIndexView(m))
}

func (s *Server) lessonPage(c *gin.Context) {
	l, ok := s.lessonOr404(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	cat := s.catalog()
	m := views.LessonPage{Lesson: l, Prev: cat.Prev(l), Next: cat.Next(l), BestQuiz: -1, QuizSize: len(cat.Quizzes[l.Slug].Questions)}
	for _, id := range l.Labs {
		if _, ok := s.labs.Lab(id); ok {
			m.Labs = append(m.Labs, id)
		}
	}
	for _, slug := range l.Questions {
		if q, ok := cat.Question(slug); ok {
			m.Questions = append(m.Questions, q)
		}
	}
	if u := currentUser(c); u != nil {
		m.SignedIn = true
		rows, err := s.store.LessonProgressOf(ctx, u.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		seen := false
		for _, r := range rows {
			if r.LessonSlug == l.Slug {
				m.Completed = r.CompletedAt != nil
				// A reload within a minute need not write again.
				seen = s.now().Sub(r.LastOpenedAt) < time.Minute
			}
		}
		if !seen {
			if err := s.store.OpenLesson(ctx, u.ID, l.Slug, s.now()); err != nil {
				s.fail(c, err)
				return
			}
		}
		attempts, err := s.store.QuizAttempts(ctx, u.ID, l.Slug)
		if err != nil {
			s.fail(c, err)
			return
		}
		for _, a := range attempts {
			m.BestQuiz = max(m.BestQuiz, a.Score*100/max(a.MaxScore, 1))
		}
	}
	s.render(c, http.StatusOK, views.Page{Title: l.Title, Section: "lessons", Description: l.Summary}, views.LessonView(m))
}

func (s *Server) completeLesson(c *gin.Context) {
	l, ok := s.lessonOr404(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	done := c.Request.PostForm.Get("done") != "false"
	u := currentUser(c)
	if err := s.store.SetLessonComplete(c.Request.Context(), u.ID, l.Slug, done, s.now()); err != nil {
		s.fail(c, err)
		return
	}
	if c.GetHeader("HX-Request") == "true" {
		s.fragment(c, http.StatusOK, views.CompleteButton(l.Slug, done))
		return
	}
	c.Redirect(http.StatusSeeOther, "/lessons/"+l.Slug)
}

func (s *Server) diagram(c *gin.Context) {
	name := c.Param("file")
	b, ok := s.catalog().Diagrams[name]
	if !ok {
		s.notFound(c)
		return
	}
	c.Header("Cache-Control", "public, max-age=3600")
	// The drawing styles itself; nothing else may load or run in it.
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	c.Data(http.StatusOK, "image/svg+xml", b)
}

func (s *Server) quizPage(c *gin.Context) {
	l, ok := s.lessonOr404(c)
	if !ok {
		return
	}
	m := views.QuizPage{Lesson: l, Quiz: s.catalog().Quizzes[l.Slug]}
	if !s.quizHistory(c, &m) {
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Quiz: " + l.Title, Section: "lessons"}, views.QuizView(m))
}

func (s *Server) quizHistory(c *gin.Context, m *views.QuizPage) bool {
	u := currentUser(c)
	if u == nil {
		return true
	}
	m.SignedIn = true
	attempts, err := s.store.QuizAttempts(c.Request.Context(), u.ID, m.Lesson.Slug)
	if err != nil {
		s.fail(c, err)
		return false
	}
	for i, a := range attempts {
		if i == 10 {
			break
		}
		m.History = append(m.History, views.QuizHistory{When: a.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC"), Score: a.Score, Max: a.MaxScore, Passed: a.Passed})
	}
	return true
}

// quizAnswers reads "q.ID" form fields into answers for the quiz.
func quizAnswers(form map[string][]string) lessons.Answers {
	a := lessons.Answers{}
	for k, v := range form {
		if id, ok := strings.CutPrefix(k, "q."); ok && len(id) <= 64 {
			a[id] = v
		}
	}
	return a
}

// answered counts the quiz's questions that have a non-blank answer.
func answered(quiz *lessons.Quiz, a lessons.Answers) int {
	n := 0
	for _, q := range quiz.Questions {
		for _, v := range a[q.ID] {
			if strings.TrimSpace(v) != "" {
				n++
				break
			}
		}
	}
	return n
}

func (s *Server) gradeQuiz(c *gin.Context) {
	l, ok := s.lessonOr404(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	answers := quizAnswers(c.Request.PostForm)
	quiz := s.catalog().Quizzes[l.Slug]
	if answered(quiz, answers) == 0 {
		// A blank submit is a slip, not an attempt: nothing is recorded.
		m := views.QuizPage{Lesson: l, Quiz: quiz,
			Error: "You have not answered any question yet. Answer at least one, then check your answers; nothing was recorded."}
		if !s.quizHistory(c, &m) {
			return
		}
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Quiz: " + l.Title, Section: "lessons"}, views.QuizView(m))
		return
	}
	var res lessons.Result
	if u := currentUser(c); u != nil {
		var err error
		if res, err = s.progress.GradeQuiz(c.Request.Context(), u.ID, l.Slug, answers); err != nil {
			s.fail(c, err)
			return
		}
	} else {
		res = quiz.Grade(answers)
	}
	m := views.QuizPage{Lesson: l, Quiz: quiz, Result: &res}
	if !s.quizHistory(c, &m) {
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Quiz result: " + l.Title, Section: "lessons"}, views.QuizView(m))
}

func (s *Server) questionsIndex(c *gin.Context) {
	cat := s.catalog()
	m := views.QuestionIndex{Done: map[string]bool{}}
	if u := currentUser(c); u != nil {
		m.SignedIn = true
		rows, err := s.store.QuestionAnswers(c.Request.Context(), u.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		for _, r := range rows {
			m.Done[r.QuestionSlug] = true
		}
	}
	for _, t := range lessons.Topics {
		g := views.QuestionGroup{Topic: t.Title}
		for _, q := range cat.Questions {
			if q.Topic == t.ID {
				g.Questions = append(g.Questions, q)
			}
		}
		if len(g.Questions) > 0 {
			m.Groups = append(m.Groups, g)
		}
	}
	s.render(c, http.StatusOK, views.Page{Title: "Interview questions", Section: "questions"}, views.QuestionIndexView(m))
}

func (s *Server) questionModel(c *gin.Context) (views.QuestionPage, bool) {
	cat := s.catalog()
	q, ok := cat.Question(c.Param("slug"))
	if !ok {
		s.notFound(c)
		return views.QuestionPage{}, false
	}
	m := views.QuestionPage{Question: q, Hit: map[int]bool{}}
	for _, slug := range q.Lessons {
		if l, ok := cat.Lesson(slug); ok {
			m.Lessons = append(m.Lessons, l)
		}
	}
	u := currentUser(c)
	if u == nil {
		return m, true
	}
	m.SignedIn = true
	qa, err := s.store.QuestionAnswerOf(c.Request.Context(), u.ID, q.Slug)
	switch {
	case apperr.Is(err, apperr.NotFound):
	case err != nil:
		s.fail(c, err)
		return m, false
	default:
		m.Answer, m.Revealed = qa.Answer, qa.RevealedAt != nil
		if qa.Rating != nil {
			m.Rating = *qa.Rating
		}
		var hit []int
		_ = json.Unmarshal([]byte(qa.KeyPointsHit), &hit)
		for _, i := range hit {
			m.Hit[i] = true
		}
	}
	return m, true
}

func (s *Server) questionPage(c *gin.Context) {
	m, ok := s.questionModel(c)
	if !ok {
		return
	}
	m.Saved = c.Query("saved") == "1"
	s.render(c, http.StatusOK, views.Page{Title: m.Question.Title, Section: "questions"}, views.QuestionView(m))
}

func (s *Server) answerQuestion(c *gin.Context) {
	m, ok := s.questionModel(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	answer := strings.TrimSpace(c.Request.PostForm.Get("answer"))
	m.Answer = answer
	switch n := utf8.RuneCountInString(answer); {
	case !utf8.ValidString(answer):
		m.Error = "The answer contains invalid characters."
	case n == 0:
		m.Error = "Write your answer first: even a few lines. Comparing it with the model answer is where the learning happens."
	case n > maxAnswerChars:
		m.Error = "That answer is longer than " + strconv.Itoa(maxAnswerChars) + " characters; please shorten it."
	}
	if m.Error != "" {
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: m.Question.Title, Section: "questions"}, views.QuestionView(m))
		return
	}
	ctx := c.Request.Context()
	u := currentUser(c)
	if err := s.store.SaveQuestionAnswer(ctx, u.ID, m.Question.Slug, answer, s.now()); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.store.RevealQuestion(ctx, u.ID, m.Question.Slug, s.now()); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/questions/"+m.Question.Slug+"?saved=1#model-answer")
}

func (s *Server) rateQuestion(c *gin.Context) {
	m, ok := s.questionModel(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	if !m.Revealed {
		s.fail(c, apperr.New(apperr.Invalid, "Write your answer and reveal the model answer before rating yourself."))
		return
	}
	rating, err := strconv.Atoi(c.Request.PostForm.Get("rating"))
	if err != nil || rating < 1 || rating > 5 {
		s.fail(c, apperr.Fields(map[string]string{"rating": "Choose how you did, from Missed it to Strong."}))
		return
	}
	var hit []int
	for _, v := range c.Request.PostForm["point"] {
		i, err := strconv.Atoi(v)
		if err == nil && i >= 0 && i < len(m.Question.KeyPoints) && !slices.Contains(hit, i) {
			hit = append(hit, i)
		}
	}
	slices.Sort(hit)
	raw, _ := json.Marshal(hit)
	if hit == nil {
		raw = []byte("[]")
	}
	if err := s.store.RateQuestion(c.Request.Context(), currentUser(c).ID, m.Question.Slug, rating, string(raw), s.now()); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "Rating saved. The question is now in your review deck.")
	c.Redirect(http.StatusSeeOther, "/questions/"+m.Question.Slug+"#rate")
}

func (s *Server) progressPage(c *gin.Context) {
	d, err := s.progress.Dashboard(c.Request.Context(), currentUser(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	ladders, err := s.ladderStandings(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	dr, err := s.drillProgress(c, currentUser(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	sessions, err := s.interviewRows(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Progress", Section: "progress", DueCards: d.ReviewsDue, DueKnown: true},
		views.ProgressView(views.ProgressPage{D: d, Ladders: ladders, Drills: dr, Interviews: sessions}))
}

func (s *Server) tickOutcome(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	id := c.Request.PostForm.Get("outcome")
	if !slices.ContainsFunc(s.catalog().Outcomes, func(o lessons.Outcome) bool { return o.ID == id }) {
		s.fail(c, apperr.New(apperr.NotFound, "There is no such checklist outcome."))
		return
	}
	on := c.Request.PostForm.Get("ticked") == "true"
	if err := s.store.SetOutcomeTick(c.Request.Context(), currentUser(c).ID, id, on, s.now()); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/progress#checklist-h")
}

func (s *Server) search(c *gin.Context) {
	q := c.Query("q")
	if len(q) > 200 {
		q = q[:200]
	}
	m := views.SearchPage{Query: strings.TrimSpace(q)}
	if m.Query != "" {
		m.Hits = s.catalog().Search(m.Query, 30)
	}
	s.render(c, http.StatusOK, views.Page{Title: "Search"}, views.SearchView(m))
}

// homeModel fills the visitors' home page: the lessons and the labs.
func (s *Server) homeModel() views.Home {
	var h views.Home
	for _, l := range s.labs.Labs() {
		h.Labs = append(h.Labs, views.HomeLab{ID: l.Info().ID, Title: l.Info().Title, Summary: l.Info().Summary})
	}
	for _, l := range s.catalog().Lessons {
		h.Lessons = append(h.Lessons, views.HomeLesson{Slug: l.Slug, Title: l.Title, Summary: l.Summary, Minutes: l.Minutes})
	}
	return h
}
