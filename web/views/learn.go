package views

import (
	"strconv"

	"github.com/sdworkbook/workbook/lessons"
	"github.com/sdworkbook/workbook/progress"
)

// LessonIndex is the model of /lessons.
type LessonIndex struct {
	Groups    []LessonGroup
	SignedIn  bool
	Completed int
	Total     int
}

// LessonGroup is the lessons of one topic.
type LessonGroup struct {
	Topic   string
	Lessons []LessonRow
}

// LessonRow is one lesson in the index.
type LessonRow struct {
	Lesson    *lessons.Lesson
	Opened    bool
	Completed bool
	BestQuiz  int
}

// LessonPage is the model of /lessons/{slug}.
type LessonPage struct {
	Lesson    *lessons.Lesson
	Questions []*lessons.Question
	Prev      *lessons.Lesson
	Next      *lessons.Lesson
	SignedIn  bool
	Completed bool
	BestQuiz  int
	QuizSize  int
	// Labs are the lesson's labs that this server runs.
	Labs []string
}

// QuizPage is the model of a quiz form or its result.
type QuizPage struct {
	Lesson   *lessons.Lesson
	Quiz     *lessons.Quiz
	Result   *lessons.Result
	SignedIn bool
	History  []QuizHistory
}

// QuizHistory is a past attempt.
type QuizHistory struct {
	When   string
	Score  int
	Max    int
	Passed bool
}

// QuestionIndex is the model of /questions.
type QuestionIndex struct {
	Groups   []QuestionGroup
	SignedIn bool
	Done     map[string]bool
}

// QuestionGroup is the questions of one topic.
type QuestionGroup struct {
	Topic     string
	Questions []*lessons.Question
}

// QuestionPage is the model of /questions/{slug}.
type QuestionPage struct {
	Question *lessons.Question
	Lessons  []*lessons.Lesson
	SignedIn bool
	Answer   string
	Revealed bool
	Rating   int
	Hit      map[int]bool
	Error    string
	Saved    bool
}

// ReviewPage is the model of /review.
type ReviewPage struct {
	Card      *lessons.Card
	Due       int
	New       int
	DeckSize  int
	Streak    int
	Source    string
	SourceURL string
}

// ProgressPage is the model of /progress.
type ProgressPage struct {
	D progress.Dashboard
}

// SearchPage is the model of /search.
type SearchPage struct {
	Query string
	Hits  []lessons.Hit
}

func itoa(n int) string { return strconv.Itoa(n) }

func topicTitle(id string) string { return lessons.TopicTitle(id) }

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

type rating struct {
	Value int
	Label string
}

var ratings = []rating{{1, "Missed it"}, {2, "Weak"}, {3, "Fair"}, {4, "Good"}, {5, "Strong"}}

func ratingLabel(v int) string {
	for _, r := range ratings {
		if r.Value == v {
			return r.Label
		}
	}
	return ""
}
