package views

import (
	"github.com/sdworkbook/workbook/labs"
	"strconv"
	"time"

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
	Error    string // why the answers were not graded (none given)
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
	// Remaining is how many cards wait, what the nav's badge says.
	Remaining int
	// Done is how many cards this session reviewed, Graded how many with
	// each of ReviewGrades; Since is when it began (Unix seconds).
	Done   int
	Graded [4]int
	Since  int64
	// Intervals says when the card comes back after each grade.
	Intervals [4]time.Duration
	// NextDue is how long until the next card is due, once none is.
	NextDue time.Duration
}

// ReviewGrade is one answer to a flashcard, its button and its key.
type ReviewGrade struct {
	Grade int
	Label string
	Key   string
	Class string
}

// ReviewGrades are the grade buttons in order (the progress package's
// Grades), keys 1 to 4.
var ReviewGrades = [4]ReviewGrade{
	{Grade: progress.Grades[0], Label: "Again", Key: "1", Class: "again"},
	{Grade: progress.Grades[1], Label: "Hard", Key: "2", Class: "ghost"},
	{Grade: progress.Grades[2], Label: "Good", Key: "3"},
	{Grade: progress.Grades[3], Label: "Easy", Key: "4", Class: "ghost"},
}

// IntervalText says how long until a card comes back, as Anki does:
// "10 min", "5 h", "6 d", "2.5 mo", "1.2 y".
func IntervalText(d time.Duration) string {
	const day = 24 * time.Hour
	d = d.Round(time.Minute) // a stored time may have lost its last digits
	switch {
	case d < time.Hour:
		return strconv.Itoa(max(1, int(d.Minutes()))) + " min"
	case d < day:
		return strconv.Itoa(int(d.Round(time.Hour).Hours())) + " h"
	case d < 30*day:
		return strconv.Itoa(int(d.Round(day)/day)) + " d"
	case d < 365*day:
		return strconv.FormatFloat(float64(d)/float64(30*day), 'f', 1, 64) + " mo"
	}
	return strconv.FormatFloat(float64(d)/float64(365*day), 'f', 1, 64) + " y"
}

// ProgressPage is the model of /progress.
type ProgressPage struct {
	D progress.Dashboard
	// Ladders is the learner's step reached on each lab's exercise ladder.
	Ladders []LadderStanding
	// Drills are the learner's estimation drill figures.
	Drills DrillProgress
	// Interviews are the learner's mock interviews, newest first.
	Interviews []InterviewSessionRow
}

// LadderStanding is how far a learner has climbed one lab's ladder.
type LadderStanding struct {
	Lab, Title string
	// Reached is the highest step passed (0: none); Steps how many it has.
	Reached, Steps int
	// Next is the first step not yet passed, nil when all are.
	Next *labs.Exercise
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

// toleranceText says how close a numeric answer had to be: an estimate
// within a share of the answer, anything else within its tolerance.
func toleranceText(q *lessons.QuizQuestion) string {
	if q.Estimate && q.Allowed() > q.Tolerance {
		return "an estimate: within " + formatNumber(lessons.EstimateShare*100) + "%"
	}
	return "± " + formatNumber(q.Tolerance)
}

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
